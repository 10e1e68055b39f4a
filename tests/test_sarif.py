"""`specc check --format sarif`: a SARIF 2.1.0 log with the same exit codes as every other format.

The log is validated against tests/data/sarif-2.1.0-specc-subset.schema.json, written for these
tests from the OASIS standard: every object we emit may carry only the properties the standard
defines, with its required ones, enumerations and minimums.  The official schema file is not
vendored (third-party files stay out of this repository), so this is a strict subset of it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from specc.cli import main
from specc.codes import CODES

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-2.1.0-specc-subset.schema.json").read_text(encoding="utf-8"))
BROKEN = ROOT / "specs" / "broken" / "cifar_wrong_in_features.yaml"
WARNS = ROOT / "tests" / "corpus" / "lint" / "l017_stacked_convs.yaml"


def sarif(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    rc = main(["check", "--format", "sarif", *args])
    log = json.loads(capsys.readouterr().out)
    jsonschema.Draft7Validator(SCHEMA).validate(log)
    return rc, log


def test_schema_is_well_formed() -> None:
    assert SCHEMA["properties"]["version"] == {"const": "2.1.0"}
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_errors_and_warnings_validate_and_keep_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, log = sarif(capsys, str(BROKEN), str(WARNS), str(ROOT / "specs" / "xor.yaml"))
    assert rc == 1
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    by_code = {r["ruleId"]: r for r in run["results"]}
    assert set(by_code) == {"S001", "L017"}
    err, warn = by_code["S001"], by_code["L017"]
    assert err["level"] == "error" and warn["level"] == "warning"
    assert rules[err["ruleIndex"]]["id"] == "S001"
    region = err["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (17, 33)
    assert err["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "specs/broken/cifar_wrong_in_features.yaml")
    assert "hint: set in_features: 12544" in err["message"]["text"]
    assert rules[by_code["L017"]["ruleIndex"]]["defaultConfiguration"]["level"] == "warning"


def test_clean_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    rc, log = sarif(capsys, str(ROOT / "specs" / "xor.yaml"))
    assert rc == 0 and log["runs"][0]["results"] == []
    assert sarif(capsys, str(WARNS))[0] == 0
    assert sarif(capsys, "--strict", str(WARNS))[0] == 1


def test_relative_path_with_a_space_and_a_command_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(ROOT / "specs" / "xor.yaml", tmp_path / "my spec.yaml")
    monkeypatch.chdir(tmp_path)
    rc, log = sarif(capsys, "my spec.yaml", "--set", "nosuchvar=3")
    assert rc == 1
    (result,) = log["runs"][0]["results"]
    loc = result["locations"][0]["physicalLocation"]
    assert result["ruleId"] == "X003"
    assert loc["artifactLocation"] == {"uri": "my%20spec.yaml", "uriBaseId": "SRCROOT"}
    assert loc["region"] == {"startLine": 1, "startColumn": 1}  # no place in the file: its first line
    assert log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"].endswith("/")


def test_the_schema_check_can_fail(capsys: pytest.CaptureFixture[str]) -> None:
    _, log = sarif(capsys, str(WARNS))
    bad = json.loads(json.dumps(log))
    bad["runs"][0]["results"][0]["level"] = "fatal"  # not a SARIF level
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(bad)
    bad = json.loads(json.dumps(log))
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0  # 1-based
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(bad)
    bad = json.loads(json.dumps(log))
    bad["runs"][0]["results"][0]["hint"] = "x"  # not a property of result: it belongs in properties
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(SCHEMA).validate(bad)
