#!/usr/bin/python3
"""Trim SunSpec model definitions (github.com/sunspec/models, json/model_<id>.json) to what
carbonedge's generic SunSpec decoder uses: point name, type, size, scale-factor reference, units
and label, per group. Each output file records its source file, commit and version.

Usage: trim.py <checkout of sunspec/models> <commit> <version> <model ids...>
"""
import json
import subprocess
import sys

KEEP = ("name", "type", "size", "sf", "units", "label")


def trim_group(g):
    out = {"name": g["name"]}
    if "count" in g:
        out["count"] = g["count"]
    out["points"] = [{k: p[k] for k in KEEP if k in p} for p in g.get("points", [])]
    if g.get("groups"):
        out["groups"] = [trim_group(s) for s in g["groups"]]
    return out


def main():
    repo, commit, version, *ids = sys.argv[1:]
    for mid in ids:
        path = f"json/model_{mid}.json"
        model = json.loads(subprocess.check_output(["git", "-C", repo, "show", f"{commit}:{path}"]))
        out = {
            "source": {
                "repository": "https://github.com/sunspec/models",
                "path": path,
                "commit": commit,
                "version": version,
                "trimmed": "points reduced to name, type, size, sf, units, label by drivers/sunspec/models/trim.py",
            },
            "id": model["id"],
            "label": model["group"].get("label", model["group"]["name"]),
            "group": trim_group(model["group"]),
        }
        with open(f"model_{mid}.json", "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
