"""The course's assignment: where the six blanks come from, the experiment sets and their
submission bars (`thresholds.toml`), checking a submission, and the stitching demo."""
