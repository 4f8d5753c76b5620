"""The browser libraries are vendored (issue 10, DESIGN.md: no CDN, no Node at run time): every file the
manifest lists is the one bin/vendor-assets extracted from the pinned, integrity-checked npm tarball."""

from __future__ import annotations

import hashlib
import json
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "kassa" / "web" / "static" / "vendor"


def test_every_vendored_file_matches_its_manifest_hash() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    assert sorted(manifest) == ["chart.LICENSE.md", "chart.umd.min.js", "htmx.LICENSE", "htmx.min.js"]
    for name, entry in manifest.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"], name
    on_disk = {p.name for p in VENDOR.iterdir()} - {"MANIFEST.json"}
    assert on_disk == set(manifest)  # nothing unrecorded was dropped in by hand


def test_the_manifest_is_what_the_script_pins() -> None:
    pinned = runpy.run_path(str(ROOT / "bin" / "vendor-assets"), run_name="vendor_assets")["PACKAGES"]
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    expected = {
        target: (name, version, integrity)
        for name, version, integrity, files in pinned
        for target in files.values()
    }
    assert {k: (v["package"], v["version"], v["integrity"]) for k, v in manifest.items()} == expected
