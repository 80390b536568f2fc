import inspect

from api.routes.uploads import upload
from schemas import JobOptions


def test_the_upload_form_takes_every_job_option() -> None:
    """POST /v1/uploads names its form fields one by one: a new option must not be dropped there."""
    assert set(JobOptions.model_fields) <= set(inspect.signature(upload).parameters)
