#!/usr/bin/env python3
"""Refresh the files harness takes from npm: the mutation-testing-elements web component (shipped in the
wheel, harness/report/assets/) and the mutation-testing-report-schema (the tests validate against it).

Usage: scripts/refresh_mutation_assets.py [ELEMENTS_VERSION [SCHEMA_VERSION]]   (default: the pins below)

Each package is fetched with `npm pack` (the registry's published tarball, checked by npm against its
integrity hash); the file taken from it, its license and a manifest with the version, the tarball's
integrity and the file's sha256 are written beside each other. The tests check the sha256.
"""

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "mutation-testing-elements": {
        "version": "3.9.0",
        "file": "package/dist/mutation-test-elements.js",
        "dest": ROOT / "harness/report/assets",
    },
    "mutation-testing-report-schema": {
        "version": "3.8.4",
        "file": "package/dist/src/mutation-testing-report-schema.json",
        "dest": ROOT / "tests/harness/store/schema",
    },
}


def fetch(name: str, version: str, member: str, dest: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
        packed = json.loads(out.stdout)[0]
        with tarfile.open(Path(tmp) / packed["filename"]) as tar:
            body = tar.extractfile(member).read()
            license_text = tar.extractfile("package/LICENSE").read()
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(member).name
    target.write_bytes(body)
    (dest / f"{name}.LICENSE").write_bytes(license_text)
    manifest = {
        "package": name,
        "version": version,
        "license": "Apache-2.0",
        "file": member.removeprefix("package/"),
        "integrity": packed["integrity"],
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    (dest / f"{name}.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str]) -> None:
    pins = [p["version"] for p in PACKAGES.values()]
    pins[: len(argv)] = argv
    for (name, pkg), version in zip(PACKAGES.items(), pins, strict=True):
        manifest = fetch(name, version, pkg["file"], pkg["dest"])
        print(f"{name}@{version}: {manifest['file']} sha256 {manifest['sha256']}")


if __name__ == "__main__":
    main(sys.argv[1:])
