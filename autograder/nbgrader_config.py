"""nbgrader settings for the course: one assignment (`iql`) holding the chapter notebooks.

Student versions of blank cells raise until written; grading runs every cell with a time
limit, so a blank that loops forever costs that cell, not the rest of the notebook.
"""
c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = "iql-from-absolute-zero"
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("not written yet: replace these two lines with your code")'
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.Execute.timeout = 300            # seconds per cell
c.Execute.interrupt_on_timeout = True
