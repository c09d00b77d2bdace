"""The ``satchel`` command run as a user would (click's runner) on local folders, ``file://`` and memory stores."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import satchel
from satchel.cli import main
from satchel.cli.filters import Filters


def run(*args: str, input: bytes | str | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``satchel ARGS`` in this process and return its result (exit code, stdout, stderr)."""
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def json_lines(result: Result) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def memory_url() -> str:
    return f"memory://cli-{secrets.token_hex(6)}"


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def files_below(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


TREE = {
    "a.txt": b"alpha\n",
    "b.json": b'{"b": 1}',
    "docs/c.txt": b"gamma" * 100,
    "docs/deep/d.bin": os.urandom(70_000),
    "logs/e.log": b"",
}


# --- copies -------------------------------------------------------------------------------------------------


def test_cp_one_file_up_and_down(tmp_path: Path) -> None:
    url = memory_url()
    (tmp_path / "report.txt").write_bytes(b"quarterly numbers\n")
    up = run("cp", str(tmp_path / "report.txt"), f"{url}/reports/")
    assert up.exit_code == 0, up.stderr
    assert up.stdout == f"upload: {tmp_path / 'report.txt'} -> {url}/reports/report.txt\n"
    meta = satchel.open(url).head("reports/report.txt")
    assert meta.content_type == "text/plain"  # guessed from the name

    down = run("cp", f"{url}/reports/report.txt", str(tmp_path / "out") + "/")
    assert down.exit_code == 0, down.stderr
    copy = tmp_path / "out" / "report.txt"
    assert copy.read_bytes() == b"quarterly numbers\n"
    assert copy.stat().st_mtime == pytest.approx(meta.last_modified.timestamp(), abs=1e-3)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["report.txt"]  # no temporary file left


def test_cp_recursive_both_ways_through_a_file_store(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", TREE)
    store = f"file://{tmp_path / 'store'}?fsync=false"
    up = run("cp", "-r", str(source), store, "--json")
    assert up.exit_code == 0, up.stderr
    records = json_lines(up)
    assert {r["op"] for r in records} == {"upload"}
    assert {r["status"] for r in records} == {"done"}
    assert len(records) == len(TREE)
    assert sorted(m.key for m in satchel.open(tmp_path / "store").list()) == sorted(TREE)
    # The ``//`` marks where the store's root ends; without it the root is found by its .satchel folder.
    down = run("cp", "-r", f"file://{tmp_path / 'store'}//docs", str(tmp_path / "docs-copy"))
    assert down.exit_code == 0, down.stderr
    assert files_below(tmp_path / "docs-copy") == {"c.txt": TREE["docs/c.txt"], "deep/d.bin": TREE["docs/deep/d.bin"]}
    again = run("cp", "-r", f"file://{tmp_path / 'store'}/docs/deep", str(tmp_path / "deep"))
    assert again.exit_code == 0, again.stderr
    assert files_below(tmp_path / "deep") == {"d.bin": TREE["docs/deep/d.bin"]}


def test_cp_between_stores_keeps_attributes(tmp_path: Path) -> None:
    first, second = memory_url(), memory_url()
    satchel.open(first).put("k/page.html", b"<p>hi</p>", content_type="text/html", metadata={"owner": "ana"})
    result = run("cp", f"{first}/k/page.html", f"{second}/copied")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("copy: ")
    meta = satchel.open(second).head("copied")
    assert (meta.content_type, dict(meta.metadata)) == ("text/html", {"owner": "ana"})
    inside = run("cp", f"{first}/k/page.html", f"{first}/k/again.html", "--metadata", "owner=bo")
    assert inside.exit_code == 0, inside.stderr
    assert dict(satchel.open(first).head("k/again.html").metadata) == {"owner": "bo"}


def test_cp_stdin_and_stdout(tmp_path: Path) -> None:
    url = memory_url()
    put = run("cp", "-", f"{url}/from-stdin.bin", input=b"piped bytes")
    assert put.exit_code == 0, put.stderr
    assert satchel.open(url).get_bytes("from-stdin.bin") == b"piped bytes"
    out = run("cp", f"{url}/from-stdin.bin", "-")
    assert out.exit_code == 0, out.stderr
    assert out.stdout_bytes == b"piped bytes"
    local = run("cp", "-", str(tmp_path / "stdin.txt"), input=b"to a file")
    assert (local.exit_code, (tmp_path / "stdin.txt").read_bytes()) == (0, b"to a file")
    nameless = run("cp", "-", f"{url}/prefix/", input=b"x")
    assert nameless.exit_code == 2
    assert "name the object" in nameless.stderr


def test_object_attributes(tmp_path: Path) -> None:
    url = memory_url()
    source = tmp_path / "data.csv"
    source.write_bytes(b"a,b\n" * 1000)
    result = run(
        "cp", str(source), f"{url}/d.csv", "--content-type", "text/x-csv", "--metadata", "team=ops",
        "--metadata", "tier=gold", "--compress", "zstd", "--ttl", "1h30m",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    stat = json_lines(run("stat", f"{url}/d.csv", "--json"))[0]
    assert stat["content_type"] == "text/x-csv"
    assert stat["metadata"] == {"team": "ops", "tier": "gold"}
    assert stat["compression"] == "zstd"
    assert stat["expires_at"] is not None
    assert satchel.open(url).get_bytes("d.csv") == source.read_bytes()
    assert run("cp", str(source), f"{url}/x", "--ttl", "1h", "--tti", "1h").exit_code == 2
    assert run("cp", str(source), f"{url}/x", "--ttl", "soon").exit_code == 2
    assert run("cp", str(source), str(tmp_path / "y"), "--metadata", "a=b").exit_code == 2


def test_mv_and_rm(tmp_path: Path) -> None:
    url = memory_url()
    source = make_tree(tmp_path / "src", TREE)
    moved = run("mv", "-r", str(source), f"{url}/moved")
    assert moved.exit_code == 0, moved.stderr
    assert files_below(source) == {}
    store = satchel.open(url)
    assert sorted(m.key for m in store.list()) == sorted(f"moved/{rel}" for rel in TREE)
    renamed = run("mv", f"{url}/moved/a.txt", f"{url}/renamed.txt")
    assert renamed.exit_code == 0, renamed.stderr
    assert not store.exists("moved/a.txt")
    assert store.get_bytes("renamed.txt") == TREE["a.txt"]

    assert run("rm", f"{url}/renamed.txt").exit_code == 0
    missing = run("rm", f"{url}/renamed.txt")
    assert missing.exit_code == 3
    assert missing.stderr == f"satchel: {url}/renamed.txt: no such object\n"
    assert run("rm", "-f", f"{url}/renamed.txt").exit_code == 0
    assert run("rm", f"{url}/moved").exit_code == 2  # a prefix needs -r
    dry = run("rm", "-r", "--dry-run", f"{url}/moved")
    assert dry.exit_code == 0
    assert dry.stdout.count("(dry run) delete: ") == len(TREE) - 1
    assert len(list(store.list())) == len(TREE) - 1
    assert run("rm", "-r", f"{url}/moved", "--exclude", "*.txt").exit_code == 0
    assert sorted(m.key for m in store.list()) == ["moved/docs/c.txt"]

    local = make_tree(tmp_path / "local", {"x/y.txt": b"y", "z.txt": b"z"})
    assert run("rm", str(local / "x")).exit_code == 2
    gone = run("rm", "-r", str(local))
    assert gone.exit_code == 0, gone.stderr
    assert not local.exists()


# --- filters ------------------------------------------------------------------------------------------------


def test_filter_semantics_last_match_wins() -> None:
    assert Filters().allows("anything")
    keep_txt = Filters([("exclude", "*"), ("include", "*.txt")])
    assert keep_txt.allows("a.txt")
    assert keep_txt.allows("docs/deep/c.txt")  # '*' crosses '/', as in aws s3
    assert not keep_txt.allows("a.json")
    assert not Filters([("include", "*.txt"), ("exclude", "*")]).allows("a.txt")
    assert not Filters([("exclude", "docs/*")]).allows("docs/deep/d.bin")
    assert Filters([("exclude", "docs/*"), ("include", "docs/deep/*")]).allows("docs/deep/d.bin")
    assert not Filters([("exclude", "*.TXT")]).allows("A.TXT")
    assert Filters([("exclude", "*.TXT")]).allows("a.txt")  # case-sensitive


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--exclude", "*", "--include", "*.txt"], {"a.txt", "docs/c.txt"}),
        (["--include", "*.txt", "--exclude", "*"], set()),
        (["--exclude=docs/*", "--include=docs/deep/*"], {"a.txt", "b.json", "docs/deep/d.bin", "logs/e.log"}),
        (["--exclude", "*.txt"], {"b.json", "docs/deep/d.bin", "logs/e.log"}),
    ],
)
def test_filters_in_cp(tmp_path: Path, filters: list[str], expected: set[str]) -> None:
    source = make_tree(tmp_path / "src", TREE)
    url = memory_url()
    result = run("cp", "-r", str(source), url, *filters)
    assert result.exit_code == 0, result.stderr
    assert {m.key for m in satchel.open(url).list()} == expected


# --- sync ---------------------------------------------------------------------------------------------------


def test_sync_up_and_down_then_nothing_to_do(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", TREE)
    url = memory_url()
    first = run("sync", str(source), url)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.count("upload: ") == len(TREE)
    second = run("sync", str(source), url)
    assert (second.exit_code, second.stdout) == (0, "")
    assert f"nothing to transfer ({len(TREE)} files up to date)" in second.stderr

    down = run("sync", url, str(tmp_path / "down"))
    assert down.exit_code == 0, down.stderr
    assert files_below(tmp_path / "down") == TREE
    again = run("sync", url, str(tmp_path / "down"))
    assert (again.exit_code, again.stdout) == (0, "")
    assert "nothing to transfer" in again.stderr

    (source / "docs" / "c.txt").write_bytes(b"changed, and longer than before")
    (source / "new.txt").write_bytes(b"new")
    changed = run("sync", str(source), url, "--json")
    assert changed.exit_code == 0, changed.stderr
    assert sorted(str(r["source"]) for r in json_lines(changed)) == [
        str(source / "docs" / "c.txt"),
        str(source / "new.txt"),
    ]


def test_sync_delete(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", TREE)
    target = make_tree(tmp_path / "dst", {"extra.txt": b"extra", "logs/old.log": b"old", "keep.bak": b"k"})
    kept = run("sync", str(source), str(target))
    assert kept.exit_code == 0, kept.stderr
    assert set(files_below(target)) == set(TREE) | {"extra.txt", "logs/old.log", "keep.bak"}
    dry = run("sync", "--delete", "--dryrun", str(source), str(target))
    assert dry.exit_code == 0
    assert dry.stdout.count("(dry run) delete: ") == 3
    assert "keep.bak" in files_below(target)
    pruned = run("sync", "--delete", "--exclude", "*.bak", str(source), str(target))
    assert pruned.exit_code == 0, pruned.stderr
    assert files_below(target) == {**TREE, "keep.bak": b"k"}  # excluded paths are not deleted either
    assert "nothing to transfer" in run("sync", "--delete", "--exclude", "*.bak", str(source), str(target)).stderr


def test_sync_remote_delete_and_comparisons(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", TREE)
    url = memory_url()
    satchel.open(url).put("stale.txt", b"stale")
    assert run("sync", "--delete", str(source), url).exit_code == 0
    assert sorted(m.key for m in satchel.open(url).list()) == sorted(TREE)

    # Same size, same time, other bytes: only --checksum sees it.
    path = source / "a.txt"
    stamp = path.stat().st_mtime
    path.write_bytes(b"ALPHA\n")
    os.utime(path, (stamp, stamp))
    assert "nothing to transfer" in run("sync", str(source), url).stderr
    assert "nothing to transfer" in run("sync", "--size-only", str(source), url).stderr
    checked = run("sync", "--checksum", str(source), url)
    assert checked.stdout == f"upload: {path} -> {url}/a.txt\n"
    assert "nothing to transfer" in run("sync", "--checksum", str(source), url).stderr
    assert run("sync", "--checksum", "--size-only", str(source), url).exit_code == 2


# --- listing ------------------------------------------------------------------------------------------------


def test_ls_stat_du_cat(tmp_path: Path) -> None:
    url = memory_url()
    store = satchel.open(url)
    for rel, data in TREE.items():
        store.put(rel, data)
    top = run("ls", url)
    assert top.exit_code == 0
    names = [line.split()[-1] for line in top.stdout.splitlines()]
    assert names == ["docs/", "logs/", "a.txt", "b.json"]
    assert "PRE" in top.stdout.splitlines()[0]
    assert "68.4 KiB" in run("ls", f"{url}/docs/deep").stdout  # human sizes
    assert " 70000 " in run("ls", "--bytes", f"{url}/docs/deep/").stdout
    every = json_lines(run("ls", "-r", "--json", f"{url}/docs"))
    assert [(r["name"], r["key"], r["size"]) for r in every] == [
        ("c.txt", "docs/c.txt", 500),
        ("deep/d.bin", "docs/deep/d.bin", 70_000),
    ]
    one = run("ls", f"{url}/b.json")
    assert one.stdout.split()[-1] == "b.json"
    assert run("ls", f"{url}/nothing-here").exit_code == 3

    stat = run("stat", f"{url}/a.txt")
    assert "size:" in stat.stdout
    assert "6" in stat.stdout
    du = json_lines(run("du", url, "--json"))
    assert du == [{"path": f"{url}/", "size": sum(len(v) for v in TREE.values()), "files": len(TREE)}]
    assert json_lines(run("du", f"{url}/docs", "--json", "--exclude", "*.bin"))[0]["files"] == 1

    cat = run("cat", f"{url}/a.txt", f"{url}/b.json")
    assert cat.stdout_bytes == TREE["a.txt"] + TREE["b.json"]
    make_tree(tmp_path, {"local.txt": b"local"})
    assert run("cat", str(tmp_path / "local.txt")).stdout_bytes == b"local"
    local_ls = run("ls", str(tmp_path))
    assert local_ls.stdout.split()[-1] == "local.txt"


# --- errors and exit codes ------------------------------------------------------------------------------


def test_exit_codes_and_error_lines(tmp_path: Path) -> None:
    url = memory_url()
    missing = run("cat", f"{url}/no/such/key")
    assert missing.exit_code == 3
    assert missing.stderr == f"satchel: {url}/no/such/key: no such object\n"
    verbose = run("cat", "-v", f"{url}/no/such/key")
    assert "NotFound" in verbose.stderr
    assert "key 'no/such/key'" in verbose.stderr
    assert "Traceback" not in verbose.stderr
    assert "Traceback" in run("--debug", "cat", f"{url}/no/such/key").stderr

    assert run("cp", str(tmp_path / "absent.txt"), url + "/").exit_code == 3
    (tmp_path / "folder").mkdir()
    folder = run("cp", str(tmp_path / "folder"), url + "/")
    assert folder.exit_code == 2
    assert "use -r" in folder.stderr
    assert run("cp", str(tmp_path)).exit_code == 2  # click's own usage error
    assert run("ls", "nosuchscheme://bucket/key").exit_code == 2
    unknown = run("ls", "nowhere:some/key", env={"SATCHEL_CONFIG": str(tmp_path / "absent.toml")})
    assert unknown.exit_code == 2
    assert "no remote named 'nowhere'" in unknown.stderr
    store = satchel.open(url)
    store.put("p/one", b"1")
    assert "use -r" in run("cp", f"{url}/p", str(tmp_path)).stderr


def test_some_operations_failed_exit_1(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", {"good.txt": b"ok", "bad\x01name.txt": b"a control character"})
    url = memory_url()
    result = run("cp", "-r", str(source), url)
    assert result.exit_code == 1
    assert satchel.open(url).get_bytes("good.txt") == b"ok"
    errors = result.stderr.splitlines()
    assert len([line for line in errors if "bad" in line]) == 1
    assert "1 failed" in result.stderr


# --- named remotes --------------------------------------------------------------------------------------


def test_named_remotes_from_the_config_file(tmp_path: Path) -> None:
    root = tmp_path / "box"
    config = tmp_path / "config.toml"
    config.write_text(
        'host = "127.0.0.1"  # a satchel serve setting: ignored here\n'
        "[remotes.box]\n"
        f'url = "file://{root}"\n'
        'fsync = "${BOX_FSYNC}"\n'
        'prefix = "team/"\n'
    )
    env = {"SATCHEL_CONFIG": str(config), "BOX_FSYNC": "false"}
    (tmp_path / "note.txt").write_bytes(b"note")
    up = run("cp", str(tmp_path / "note.txt"), "box:notes/", env=env)
    assert up.exit_code == 0, up.stderr
    assert up.stdout.strip().endswith("-> box:notes/note.txt")
    assert (root / "team" / "notes" / "note.txt").read_bytes() == b"note"
    assert run("ls", "box:notes/", env=env).stdout.split()[-1] == "note.txt"
    remotes = run("ls", env=env)
    assert remotes.stdout == f"box:  file://{root}\n"
    unset = run("ls", "box:", env={"SATCHEL_CONFIG": str(config)})
    assert unset.exit_code == 2
    assert "BOX_FSYNC" in unset.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[remotes.box\n")
    invalid = run("ls", "box:", env={"SATCHEL_CONFIG": str(broken)})
    assert invalid.exit_code == 2
    assert "not valid TOML" in invalid.stderr
