"""The course as students and instructors meet it: real JupyterLab, real nbgrader, headless
Chromium driven by selenium.

One Jupyter server (fast mode, a free port on 127.0.0.1, its own runtime and config
folders) serves a temporary course folder: the student notebooks (chapter 7 with its own
two blanks written, as the guide writes them), chapter 4 with its blank written, and the
instructor's course that `make formgrader` builds. The server starts in that course, as
`make formgrader` starts it, so nbgrader finds its configuration there. Server and browser
stop when the module ends.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.course import NOTEBOOKS
from autograder.formgrader import make_instructor_course
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

TOKEN = "course-browser-tests"
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a temporary course folder."""
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks)
    write_guide_answers(NOTEBOOKS / "07_stitching.ipynb", notebooks / "07_stitching.ipynb")
    write_guide_answers(NOTEBOOKS / "04_expectile_loss.ipynb", root / "written" / "04_expectile_loss.ipynb")
    course = make_instructor_course(root / "course")
    config = root / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(  # no "get Jupyter news?" toast
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port = _free_port()
    env = {**os.environ, FAST_ENV: "1", "JUPYTER_CONFIG_DIR": str(config),
           "JUPYTER_RUNTIME_DIR": str(root / "jupyter-runtime"), "IQL_COURSE_RUNS": str(root / "runs")}
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
         f"--IdentityProvider.token={TOKEN}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready():
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as response:
                return response.status == 200
        except OSError:
            assert server.poll() is None, (root / "server.log").read_text()[-3000:]
            return False

    try:
        _wait(ready, 90, "the Jupyter server")
        yield Lab(url, root)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


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


def test_formgrader_lists_the_assignment_and_releases_it_to_the_course_exchange(browser, lab):
    browser.get(f"{lab.url}/formgrader?token={TOKEN}")
    rows = lambda: [r for r in browser.find_elements(By.CSS_SELECTOR, "table tbody tr") if r.text.startswith("iql")]
    _wait(rows, 60, "the assignment in Formgrader")
    banners = browser.execute_script(
        "return [...document.querySelectorAll('.alert')].filter(a => a.offsetParent).map(a => a.innerText)")
    assert banners == [], banners
    _wait(lambda: browser.execute_script(  # the table redraws as its models load: click the current link
        "const a = document.querySelector('table tbody tr .release a'); if (a) a.click(); return !!a"),
        30, "the release link")
    modal = _wait(lambda: [m for m in browser.find_elements(By.CSS_SELECTOR, "#success-modal, #error-modal")
                           if m.is_displayed()], 60, "the release to finish")[0]
    assert modal.get_attribute("id") == "success-modal", modal.text
    released = lab.root / "course" / "exchange" / "iql-from-absolute-zero" / "outbound" / "iql"
    assert (released / "04_expectile_loss.ipynb").exists()
    with urllib.request.urlopen(f"{lab.url}/courses?token={TOKEN}", timeout=30) as response:
        courses = json.loads(response.read())  # what JupyterLab's Course List shows
    assert courses == {"success": True, "value": ["iql-from-absolute-zero"]}, courses


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
