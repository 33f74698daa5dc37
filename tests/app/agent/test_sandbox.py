from app.agent import sandbox


def test_profile_is_balanced_and_denies_writes_outside_allowed_places():
    text = "\n".join(line.split(";;")[0] for line in sandbox.profile_text().splitlines())
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert "(deny file-write*)" in text
    for param in ("WORKSPACE", "TMPDIR", "CACHE"):
        assert f'(param "{param}")' in text


def test_wrap_passes_real_paths(tmp_path):
    link = tmp_path / "link"
    (tmp_path / "real").mkdir()
    link.symlink_to(tmp_path / "real")
    argv = sandbox.wrap(["true"], link)
    assert f"WORKSPACE={(tmp_path / 'real').resolve()}" in argv and argv[-1] == "true"
