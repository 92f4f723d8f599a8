"""`make package`: the deployable template and bundle in `out/`, expanded and linted offline.

1. `deploy/resources.json` is regenerated from the code;
2. `chalice package --merge-template deploy/resources.json out/` writes `out/sam.json` and
   `out/deployment.zip` (in gateway mode, so every route but /docs and /openapi.json carries the
   authorizer);
3. the SAM template is expanded to plain CloudFormation with aws-sam-translator (offline: `CodeUri`
   points at a placeholder S3 object, as after `aws cloudformation package`) into `out/cloudformation.json`;
4. cfn-lint checks the expanded template (linting only the SAM form misses cycles SAM creates, E3004).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLACEHOLDER_CODE_URI = "s3://artifacts-placeholder/deployment.zip"


def chalice_package(stage: str, outdir: Path, region: str) -> None:
    from deploy.template import TEMPLATE, render
    current = render()
    if not TEMPLATE.exists() or TEMPLATE.read_text() != current:
        TEMPLATE.write_text(current)
    env = dict(os.environ, JOBS_AUTH_MODE="gateway", AWS_DEFAULT_REGION=region)
    subprocess.run([str(BIN / "chalice"), "package", "--stage", stage, "--merge-template", str(TEMPLATE),
                    str(outdir)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def with_code_uri(template: dict[str, Any], code_uri: str) -> dict[str, Any]:
    """The template with every function's `CodeUri` replaced (the uploaded bundle's `s3://` URI)."""
    result = copy.deepcopy(template)
    for resource in result["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = code_uri
    return result


def expand(sam_template: dict[str, Any], region: str = "us-east-1") -> dict[str, Any]:
    """SAM to plain CloudFormation, offline (no managed policy look-ups: the template names none)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    translator = Translator(managed_policy_map={}, sam_parser=Parser())
    return translator.translate(with_code_uri(sam_template, PLACEHOLDER_CODE_URI), parameter_values={})


def lint(path: Path, region: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, AWS_DEFAULT_REGION=region)
    return subprocess.run([str(BIN / "cfn-lint"), "--regions", region, "--", str(path)], env=env,
                          capture_output=True, text=True)


def package(stage: str, outdir: Path, region: str) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    chalice_package(stage, outdir, region)
    expanded = expand(json.loads((outdir / "sam.json").read_text()), region)
    target = outdir / "cloudformation.json"
    target.write_text(json.dumps(expanded, indent=2, sort_keys=True) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=os.environ.get("STAGE", "dev"))
    parser.add_argument("--region", default=os.environ.get("REGION") or os.environ.get("AWS_DEFAULT_REGION")
                        or "us-east-1")
    parser.add_argument("--out", default=str(ROOT / "out"))
    args = parser.parse_args(argv)
    target = package(args.stage, Path(args.out), args.region)
    result = lint(target, args.region)
    sys.stdout.write(result.stdout + result.stderr)
    sys.stdout.write(f"packaged {args.stage}: {Path(args.out) / 'sam.json'}, {target} "
                     f"(cfn-lint exit {result.returncode})\n")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
