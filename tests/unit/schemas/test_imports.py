"""A downstream consumer needs only pydantic and the standard library to read an event."""

from __future__ import annotations

import json
import subprocess
import sys

# pydantic and what pydantic itself imports.
PYDANTIC = {"pydantic", "pydantic_core", "typing_extensions", "annotated_types", "typing_inspection"}
# Modules the interpreter loaded before ``schemas`` (site hooks) do not count.
PROBE = """
import json, sys
before = set(sys.modules)
import schemas, schemas.export
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_schemas_imports_only_pydantic_and_the_standard_library() -> None:
    loaded = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, check=True).stdout)
    roots = {name.split(".")[0] for name in loaded}
    # _sysconfigdata_* is the standard library's per-platform build data, absent from stdlib_module_names.
    stdlib = {root for root in roots if root in sys.stdlib_module_names or root.startswith("_sysconfigdata_")}
    foreign = sorted(roots - stdlib - PYDANTIC - {"schemas"})
    assert foreign == []
    assert {"pydantic", "schemas.lifecycle"} <= set(loaded)  # the probe really imported the package
