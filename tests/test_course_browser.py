"""The course as students and instructors meet it: real JupyterLab, real nbgrader, headless
Chromium driven by selenium.

Two Jupyter servers (fast mode, free ports on 127.0.0.1, their own runtime and config
folders), each started by the launcher its make target runs. The students' one
(`make lab`: `python -m iql_lib.course.lab`) serves a temporary folder of the student
notebooks (chapter 7 with its own two blanks written, as the guide writes them) and
chapter 4 with its blank written. The instructor's one (`make formgrader`: `python -m
autograder.formgrader`) serves the course folder it builds. Servers and browser stop when
the module ends.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.course import NOTEBOOKS, REPO, SOLUTIONS
from iql_lib.course.notebook import FAST_ENV
from tests.guide_answers import write_guide_answers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("no headless browser for the JupyterLab tests: apt-get install chromium chromium-driver",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (the test extra)")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

pytestmark = pytest.mark.slow

TOKEN = "course-browser-tests"
QUIZ, QUESTIONS = "09_self_quiz.ipynb", 12
COURSE_ID = "iql-from-absolute-zero"
NEWS = "@jupyterlab/apputils-extension:announcements"  # "get notified about official Jupyter news?"
INSTRUCTOR_PLUGINS = tuple(f"@jupyter/nbgrader:{name}" for name in
                           ("create-assignment", "formgrader", "course-list", "assignment-list"))
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, timeout: float, what: str, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except StaleElementReferenceException:  # the page redrew that element: look again
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@dataclass
class Lab:
    url: str
    root: Path


@contextmanager
def _server(launcher: list[str], root: Path, cwd: Path):
    """A Jupyter server started by `launcher` (the command a make target runs) with this
    module's address, token and private folders; stopped on exit."""
    port = _free_port()
    env = {**os.environ, FAST_ENV: "1", "IQL_COURSE_RUNS": str(root / "runs"),
           "JUPYTER_CONFIG_DIR": str(root / "jupyter-config"), "JUPYTER_DATA_DIR": str(root / "jupyter-data"),
           "JUPYTER_RUNTIME_DIR": str(root / "jupyter-runtime")}  # nothing from or into this machine's own
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [*launcher, "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as response:
                return response.status == 200
        except OSError:
            assert server.poll() is None, (root / "server.log").read_text()[-3000:]
            return False

    try:
        _wait(ready, 120, "the Jupyter server")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The students' JupyterLab, as `make lab` starts it, on a folder of student notebooks."""
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks)
    write_guide_answers(NOTEBOOKS / "07_stitching.ipynb", notebooks / "07_stitching.ipynb")
    write_guide_answers(NOTEBOOKS / "04_expectile_loss.ipynb", root / "written" / "04_expectile_loss.ipynb")
    with _server([sys.executable, "-m", "iql_lib.course.lab", str(root)], root, cwd=root) as url:
        yield Lab(url, root)


@pytest.fixture(scope="module")
def formgrader(tmp_path_factory):
    """The instructor's JupyterLab, as `make formgrader` starts it, on its course folder."""
    root = tmp_path_factory.mktemp("formgrader")
    launcher = [sys.executable, "-m", "autograder.formgrader", "--course", str(root / "course")]
    with _server(launcher, root, cwd=REPO) as url:
        yield Lab(url, root / "course")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Notebook:
    """A notebook open in JupyterLab, driven through the app's own commands."""

    def __init__(self, driver, lab: str, path: str):
        self.driver = driver
        driver.get(f"{lab}/lab/tree/{path}?reset&token={TOKEN}")
        _wait(lambda: self.js("return !!(window.jupyterapp && app().shell.currentWidget "
                              "&& app().shell.currentWidget.context.path === arguments[0])", path),
              60, f"JupyterLab to open {path}")
        _wait(lambda: self.js("return app().shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'"),
              60, "the kernel to start")

    def js(self, script: str, *args):
        return self.driver.execute_script("const app = () => window.jupyterapp;\n" + script, *args)

    def run(self, command: str):
        self.js(f"app().commands.execute({command!r})")

    def run_cell(self, index: int):
        self.js("app().shell.currentWidget.content.activeCellIndex = arguments[0]", index)
        self.run("notebook:run-cell")

    def cell(self, index: int):
        return self.driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")[index]

    def index_of(self, text: str) -> int:
        sources = self.js("return app().shell.currentWidget.content.widgets.map(c => c.model.sharedModel.source)")
        return next(i for i, source in enumerate(sources) if text in source)

    def shut_down(self):
        self.js("return app().shell.currentWidget.sessionContext.shutdown()")


def _plugins(driver) -> dict[str, bool]:
    """Which of the news pop-up and nbgrader's instructor panels the open JupyterLab runs."""
    ids = [NEWS, *INSTRUCTOR_PLUGINS]
    return dict(zip(ids, driver.execute_script("return arguments[0].map(id => window.jupyterapp.hasPlugin(id))", ids)))


class Formgrader:
    """nbgrader's Formgrader tab in the instructor's JupyterLab; its pages live in an iframe."""

    def __init__(self, driver):
        self.driver = driver

    def open(self):
        """Formgrader's tab on its first page, Manage Assignments, the driver inside its iframe."""
        self.driver.switch_to.default_content()
        self.driver.execute_script("window.jupyterapp.commands.execute('nbgrader:open-formgrader')")
        frame = _wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, "#formgrader iframe"), 30, "Formgrader")[0]
        self.driver.switch_to.frame(frame)
        first = "/formgrader/manage_assignments"
        if self.driver.execute_script("return location.pathname") != first:
            self.driver.execute_script("location.pathname = arguments[0]", first)
        _wait(lambda: self.driver.execute_script(
            "return location.pathname === arguments[0] && document.readyState === 'complete'", first), 60, first)

    def click(self, link: str, what: str):
        """Click `link` in the table's first row (the table redraws as its models load:
        click the current one)."""
        _wait(lambda: self.driver.execute_script(
            "const a = document.querySelector('table tbody tr ' + arguments[0]); if (a) a.click(); return !!a", link),
            30, f"the link to {what}")

    def act(self, link: str, what: str) -> str:
        """Click `link` and return the text of the log window it opens, then close that."""
        self.click(link, what)
        modal = _wait(lambda: [m for m in self.driver.find_elements(By.CSS_SELECTOR, "#success-modal, #error-modal")
                               if m.is_displayed()], 120, what)[0]
        text = modal.get_attribute("textContent")  # all of it, however far the window has faded in
        _wait(lambda: self.driver.execute_script(  # its OK button: pressed again while it fades in
            "const m = document.querySelector('.modal'); if (m) m.querySelector('.modal-footer button').click();"
            "return !m"), 30, "the log window to close", every=1)
        return text


class AssignmentList:
    """nbgrader's Assignment List, the students' side of the exchange, in JupyterLab."""

    def __init__(self, driver):
        self.driver = driver

    def press(self, section: str, button: str):
        """Open the list and press `button` in the list `section` (its id) once it shows."""
        self.driver.switch_to.default_content()
        self.driver.execute_script("window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
        _wait(lambda: self.driver.execute_script(
            "const b = [...document.querySelectorAll('#' + arguments[0] + ' button')]"
            ".find(b => b.innerText.trim() === arguments[1]); if (b) b.click(); return !!b", section, button),
            60, f"{button} in the Assignment List", every=1)


def _answer_the_quiz(path: Path):
    """Chapter 9 with the reference answers in its answer cells, saved as a student would."""
    solution = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
    answers = {cell["metadata"]["nbgrader"]["grade_id"]: solution.search(_text(cell))[1]
               for cell in json.loads((SOLUTIONS / QUIZ).read_text())["cells"]
               if cell["metadata"].get("nbgrader", {}).get("solution")}
    notebook = json.loads(path.read_text())
    for cell in notebook["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    path.write_text(json.dumps(notebook))


def _text(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def test_chapter_3_slider_moves_with_the_keyboard_and_redraws_the_figure(browser, lab):
    notebook = Notebook(browser, lab.url, "notebooks/03_expectile_idea.ipynb")
    notebook.run("notebook:run-all-cells")
    sliders = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, ".widget-interact"), 90, "the ζ sliders")
    explorer = sliders[0]
    browser.execute_script("arguments[0].scrollIntoView()", explorer)
    _wait(lambda: explorer.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img"), 60, "the figure")
    for track in browser.find_elements(By.CSS_SELECTOR, ".widget-slider .slider-container"):
        assert track.size["width"] >= 300, f"a slider track of {track.size['width']} px"
    figure = explorer.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output img").get_attribute("src")
    assert "ζ = 0.90:" in explorer.text
    handle = explorer.find_element(By.CSS_SELECTOR, ".noUi-handle")
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    _wait(lambda: "ζ = 0.91:" in explorer.text, 60, "the explorer to redraw at ζ = 0.91")
    redrawn = _wait(lambda: explorer.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output img"), 30, "the figure")
    assert redrawn[0].get_attribute("src") != figure
    assert explorer.find_element(By.CSS_SELECTOR, ".widget-readout").text == "0.91"
    notebook.shut_down()


def _validate(browser) -> str:
    browser.find_element(By.CSS_SELECTOR, "jp-button.validate-button").click()
    dialog = _wait(lambda: [d for d in browser.find_elements(By.CSS_SELECTOR, ".jp-Dialog")
                            if "Validation Results" in d.text], 120, "nbgrader's validation results")[0]
    text = dialog.text
    dialog.find_element(By.CSS_SELECTOR, ".jp-Dialog-footer button, .jp-Dialog-footer jp-button").click()
    return text


def test_validate_fails_on_an_unwritten_blank_and_passes_on_a_written_one(browser, lab):
    Notebook(browser, lab.url, "notebooks/04_expectile_loss.ipynb")
    report = _validate(browser)
    assert "The following cell failed" in report, report
    assert "Blank 2 (expectile_loss) is not written yet" in report and "04_expectile_loss.ipynb" in report
    assert "Traceback" not in report and len(report.splitlines()) <= 15, report

    Notebook(browser, lab.url, "written/04_expectile_loss.ipynb")
    assert "Success! Your notebook passes all the tests." in _validate(browser)


def test_validate_reports_an_unanswered_quiz_in_a_few_lines_per_question(browser, lab):
    notebook = Notebook(browser, lab.url, "notebooks/09_self_quiz.ipynb")
    report = _validate(browser)
    assert report.count('no choice yet: replace "?" with the letter you choose') == QUESTIONS, report
    assert "Traceback" not in report and len(report.splitlines()) <= 8 * QUESTIONS, report
    notebook.shut_down()


def test_the_students_lab_shows_no_news_pop_up_and_no_instructor_panel(browser, lab):
    notebook = Notebook(browser, lab.url, "notebooks/04_expectile_loss.ipynb")
    assert browser.find_elements(By.CSS_SELECTOR, "jp-button.validate-button")  # nbgrader's Validate stays
    assert _plugins(browser) == {NEWS: False, **dict.fromkeys(INSTRUCTOR_PLUGINS, False)}
    assert not browser.find_elements(By.ID, "nbgrader-create_assignemnt")  # (nbgrader's spelling)
    assert "Nbgrader" not in browser.find_element(By.ID, "jp-menu-panel").text
    time.sleep(5)  # long past the moment the pop-up would show
    assert "Jupyter news" not in browser.find_element(By.TAG_NAME, "body").text
    notebook.shut_down()


def test_formgrader_opens_first_and_takes_a_submission_through_to_returned_feedback(browser, formgrader):
    """`make formgrader` opens JupyterLab on Formgrader. From there the assignment is
    released; a student (nbgrader's Assignment List, on this server, as on a shared
    machine) fetches it and hands in chapter 9 answered; the instructor collects and
    autogrades it, with no warning about the hidden tests, and returns the feedback,
    which the student fetches."""
    browser.get(f"{formgrader.url}/?token={TOKEN}")  # where the opened browser (or the printed link) goes
    _wait(lambda: browser.execute_script("return window.jupyterapp?.shell.currentWidget?.id") == "formgrader",
          90, "JupyterLab to open on Formgrader")
    assert _plugins(browser) == {NEWS: False, **dict.fromkeys(INSTRUCTOR_PLUGINS, True)}
    pages = Formgrader(browser)
    pages.open()
    assert "Manage Assignments" in browser.find_element(By.TAG_NAME, "body").text
    assert "Successfully released 'iql'" in pages.act(".release a", "the release")
    assert (formgrader.root / "exchange" / COURSE_ID / "outbound" / "iql" / QUIZ).exists()
    with urllib.request.urlopen(f"{formgrader.url}/courses?token={TOKEN}", timeout=30) as response:
        assert json.loads(response.read()) == {"success": True, "value": [COURSE_ID]}  # the Course List

    student = AssignmentList(browser)
    student.press("released_assignments_list", "Fetch")
    fetched = formgrader.root / "iql"  # fetched into the server's folder
    _wait(lambda: (fetched / QUIZ).exists(), 30, "the fetched assignment")
    for path in fetched.glob("*.ipynb"):  # hand in chapter 9 alone, answered: a short autograde
        if path.name != QUIZ:
            path.unlink()
    _answer_the_quiz(fetched / QUIZ)
    student.press("fetched_assignments_list", "Submit")
    _wait(lambda: list((formgrader.root / "exchange" / COURSE_ID / "inbound").iterdir()), 30, "the submission")

    pages.open()
    assert "Successfully collected" in pages.act(".collect a", "the collection")
    pages.click(".num-submissions a", "the submissions page")
    autograded = pages.act(".autograde a", "the autograde")
    assert "Successfully autograded" in autograded and "has changed" not in autograded, autograded
    assert browser.find_element(By.CSS_SELECTOR, "tbody tr .score").text == f"{QUESTIONS} / 42"  # of 6 × 5 + 12
    pages.open()
    assert "Successfully generated feedback" in pages.act(".generate-feedback a", "the feedback")
    assert "Successfully released feedback" in pages.act(".release-feedback a", "the feedback's release")

    student.press("submitted_assignments_list", "Fetch Feedback")
    feedback = _wait(lambda: list((fetched / "feedback").rglob(f"{Path(QUIZ).stem}.html")), 30, "the feedback")
    html = feedback[0].read_text()
    assert "Question 1: (b) is right" in html and f"Score: {QUESTIONS}.0 / {QUESTIONS}.0" in html, html[-3000:]


def test_chapter_7_names_the_unwritten_earlier_blanks_in_a_short_error(browser, lab):
    notebook = Notebook(browser, lab.url, "notebooks/07_stitching.ipynb")
    notebook.run_cell(notebook.index_of("import"))
    training = notebook.index_of("blanks = learner_blanks(globals())")
    notebook.run_cell(training)
    error = _wait(lambda: notebook.cell(training).find_elements(By.CSS_SELECTOR, "[data-mime-type='application/vnd.jupyter.stderr']"),
                  90, "the training cell's error")[0].text
    lines = error.strip().splitlines()
    assert len(lines) <= 15, error
    for number, chapter in ((1, "05_three_networks"), (2, "04_expectile_loss"), (3, "05_three_networks"),
                            (4, "06_iql_vs_awac")):
        assert f"Blank {number} (" in error and f"{chapter}.ipynb" in error, error
    assert "Blank 5" not in error and "Blank 6" not in error  # written in this chapter
    assert '"cell_type"' not in error and "Traceback" not in error
    notebook.shut_down()
