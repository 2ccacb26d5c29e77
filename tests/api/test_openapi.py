"""The committed openapi.yaml is exactly what the app generates, and it is a valid document."""

from pathlib import Path

import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_yaml_matches_the_app(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["openapi", "print", "--format=yaml"])
    assert result.exit_code == 0, result.output
    committed = (ROOT / "openapi.yaml").read_text()
    assert yaml.safe_load(result.output) == yaml.safe_load(committed), (
        "openapi.yaml is stale: run `flask --app api openapi write --format=yaml openapi.yaml`"
    )


def test_openapi_document_is_valid():
    validate(yaml.safe_load((ROOT / "openapi.yaml").read_text()))


def test_docs_page_is_served(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()
