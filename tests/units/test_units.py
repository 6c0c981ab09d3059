"""Units on Dask: keys follow inputs, finished units are reused, failures are named, SIGKILL resumes, a local
cluster gives the serial results."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from syncact.exceptions import ConfigError
from syncact.units import Dep, Plan, UnitsFailed, run_plan


def square(x, log):  # noqa: ANN001, ANN201 - unit functions of the tests
    Path(log).open("a").write("square\n")
    return {"y": np.asarray(x, dtype=float) ** 2}


def total(a, b, log):  # noqa: ANN001, ANN201
    Path(log).open("a").write("total\n")
    return float(a["y"].sum() + b["y"].sum())


def fragile(a, fail):  # noqa: ANN001, ANN201
    if fail:
        raise ValueError("planted failure")
    return float(a["y"].max())


def _plan(log, x=(1, 2, 3), fail=False):
    plan = Plan()
    a = plan.add("square/a", square, x=np.array(x), log=str(log))
    b = plan.add("square/b", square, x=np.array([4, 5]), log=str(log))
    plan.add("total", total, a=a, b=b, log=str(log))
    plan.add("fragile", fragile, a=a, fail=fail)
    return plan


def test_keys_follow_inputs_and_their_dependencies(tmp_path):
    one, two, other = _plan(tmp_path / "l"), _plan(tmp_path / "l"), _plan(tmp_path / "l", x=(1, 2, 4))
    assert [u.key for u in one.units.values()] == [u.key for u in two.units.values()]
    assert other.units["square/a"].key != one.units["square/a"].key
    assert other.units["total"].key != one.units["total"].key  # downstream of a changed input
    assert other.units["square/b"].key == one.units["square/b"].key
    with pytest.raises(ConfigError, match="not in the plan"):
        Plan().add("x", total, a=Dep("missing"), b=Dep("missing"), log="l")


def test_finished_units_are_reused(tmp_path):
    log = tmp_path / "log"
    first = run_plan(_plan(log), tmp_path / "units", progress=False)
    assert first["total"] == 1 + 4 + 9 + 16 + 25 and first["fragile"] == 9
    assert log.read_text().count("square") == 2
    again = run_plan(_plan(log), tmp_path / "units", progress=False)
    assert again.computed == [] and sorted(again.reused) == ["fragile", "square/a", "square/b", "total"]
    assert log.read_text().count("\n") == 3  # nothing ran again
    assert again["total"] == first["total"]
    np.testing.assert_array_equal(again["square/a"]["y"], first["square/a"]["y"])


def test_a_failing_unit_is_named_and_the_others_are_kept(tmp_path):
    log = tmp_path / "log"
    with pytest.raises(UnitsFailed, match="fragile .*planted failure") as info:
        run_plan(_plan(log, fail=True), tmp_path / "units", progress=False)
    assert [f.unit for f in info.value.failures] == ["fragile"]
    assert "fail=True" in info.value.failures[0].inputs
    fixed = run_plan(_plan(log), tmp_path / "units", progress=False)
    assert fixed.computed == ["fragile"]  # the other three were kept


SCRIPT = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from syncact.units import Plan, run_plan

    def step(i, prev, log):
        open(log, "a").write(f"step{i}\\n")
        if os.environ.get("KILL_AT") == str(i):
            os.kill(os.getpid(), signal.SIGKILL)
        return {"v": np.arange(5.0) * i + (0 if prev is None else prev["v"].sum())}

    plan = Plan()
    prev = None
    for i in range(6):
        prev = plan.add(f"step/{i}", step, i=i, prev=prev, log=sys.argv[2])
    result = run_plan(plan, sys.argv[1], progress=False)
    np.save(sys.argv[4], result["step/5"]["v"])
""")


def test_sigkill_midway_resumes_to_identical_results(tmp_path):
    script = tmp_path / "plan.py"
    script.write_text(SCRIPT)
    log = tmp_path / "log"
    env = {k: v for k, v in os.environ.items() if k != "KILL_AT"}
    clean = subprocess.run([sys.executable, str(script), str(tmp_path / "clean"), str(log), "-",
                            str(tmp_path / "clean.npy")], capture_output=True, text=True, env=env)
    assert clean.returncode == 0, clean.stderr
    log.unlink()
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "store"), str(log), "-", str(tmp_path / "x.npy")],
                          env={**env, "KILL_AT": "3"})
    assert proc.returncode == -9 and not (tmp_path / "x.npy").exists()
    assert not list((tmp_path / "store").rglob("*.tmp*"))  # nothing half-written
    resumed = subprocess.run([sys.executable, str(script), str(tmp_path / "store"), str(log), "-", str(tmp_path / "r.npy")],
                             capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), np.load(tmp_path / "clean.npy"))
    assert log.read_text().split() == ["step0", "step1", "step2", "step3", "step3", "step4", "step5"]


@pytest.fixture(scope="module")
def by_value():
    cloudpickle = pytest.importorskip("cloudpickle")
    pytest.importorskip("distributed")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import the tests
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_local_cluster_of_two_workers_gives_the_serial_results(tmp_path, by_value):
    serial = run_plan(_plan(tmp_path / "log"), tmp_path / "serial", progress=False)
    on_dask = run_plan(_plan(tmp_path / "log"), tmp_path / "dask", workers=2, progress=False)
    assert on_dask["total"] == serial["total"] and on_dask["fragile"] == serial["fragile"]
    assert sorted(p.name for p in (tmp_path / "dask").rglob("*.*")) == sorted(p.name for p in (tmp_path / "serial").rglob("*.*"))
    big = np.arange(300_000, dtype=float)  # 2.4 MB: sent to the workers once, shared by both units
    plan = Plan()
    for name in ("big/a", "big/b"):
        plan.add(name, square, x=big, log=str(tmp_path / "log4"))
    shared = run_plan(plan, tmp_path / "big", workers=2, progress=False)
    np.testing.assert_array_equal(shared["big/a"]["y"], big**2)
    np.testing.assert_array_equal(shared["big/b"]["y"], big**2)
    with pytest.raises(UnitsFailed, match="planted failure"):
        run_plan(_plan(tmp_path / "log3", fail=True), tmp_path / "failing", workers=2, progress=False)
    assert len(list((tmp_path / "failing").rglob("*.*"))) == 3  # the other units' results were written


def test_workers_and_scheduler_are_exclusive(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        run_plan(_plan(tmp_path / "log"), tmp_path / "u", workers=2, scheduler="tcp://127.0.0.1:1", progress=False)


def write_file(path, value):  # noqa: ANN001, ANN201
    Path(path).write_text(str(value))
    return value


def test_a_unit_whose_output_file_is_gone_runs_again(tmp_path):
    out = tmp_path / "side.txt"
    plan = Plan()
    plan.add("w", write_file, path=str(out), value=3, outputs=[out])
    assert run_plan(plan, tmp_path / "u", progress=False).computed == ["w"]
    assert run_plan(plan, tmp_path / "u", progress=False).computed == []
    out.unlink()
    assert run_plan(plan, tmp_path / "u", progress=False).computed == ["w"] and out.read_text() == "3"


def scaled(x, factor, progress=False):  # noqa: ANN001, ANN201
    return {"y": np.asarray(x, dtype=float) * factor}


class _Lazy:
    """Stands for data read lazily: keyed by what it holds, not by its id."""

    def __init__(self, content):  # noqa: ANN001
        self.content = content

    def content_key(self):  # noqa: ANN201
        return {"content": self.content}


def test_settings_stay_out_of_the_key_and_equal_units_are_computed_once(tmp_path):
    plan = Plan()
    first = plan.add("a", scaled, x=np.arange(3), factor=2, settings={"progress": True})
    again = plan.add("b", scaled, x=np.arange(3), factor=2)  # the same work under another name
    other = plan.add("c", scaled, x=np.arange(3), factor=3)
    assert again == first and other != first and len(plan) == 2 and plan.aliases == {"b": "a"}
    assert plan.add("a", scaled, x=np.arange(3), factor=2) == first and len(plan) == 2  # the same unit again
    result = run_plan(plan, tmp_path / "u", progress=False)
    assert result.computed == ["a", "c"]
    np.testing.assert_array_equal(result["b"]["y"], [0, 2, 4])  # the alias finds a's result
    with pytest.raises(ConfigError, match="two units are named 'b'"):
        plan.add("b", scaled, x=np.arange(4), factor=2)


def test_lazy_data_and_images_are_keyed_by_content():
    import nibabel as nib

    def key(value):  # noqa: ANN001, ANN202
        plan = Plan()
        plan.add("u", scaled, x=value, factor=1)
        return plan.units["u"].key

    assert key(_Lazy([1, 2])) == key(_Lazy([1, 2])) != key(_Lazy([1, 3]))
    mask = np.zeros((4, 4, 4), dtype=np.uint8)
    mask[1:3, 1:3, 1:3] = 1
    other = mask.copy()
    other[0, 0, 0] = 1
    img = nib.Nifti1Image(mask, np.eye(4))
    assert key(img) == key(nib.Nifti1Image(mask.copy(), np.eye(4)))
    assert key(img) != key(nib.Nifti1Image(other, np.eye(4)))  # repr() is the same; the voxels differ
    assert key(img) != key(nib.Nifti1Image(mask, np.diag([2.0, 2.0, 2.0, 1.0])))


def test_a_stored_result_that_no_longer_unpickles_is_computed_again(tmp_path, caplog):
    import pickle

    from syncact.units import execute_unit

    plan = Plan()
    plan.add("s", scaled, x=np.arange(3), factor=2)
    unit = plan.units["s"]
    path = tmp_path / f"s.{unit.key[:16]}.pkl"
    # a pickle that names a class of a module that moved away (as after a refactor of syncact)
    path.write_bytes(b"\x80\x04cnot_a_module\nThing\n)\x81.")
    with pytest.raises(ImportError):
        pickle.loads(path.read_bytes())
    with caplog.at_level("WARNING"):
        result = execute_unit(unit, str(tmp_path))
    assert "cannot be read" in caplog.text
    np.testing.assert_array_equal(result["y"], np.arange(3) * 2)
    assert execute_unit(unit, str(tmp_path))["y"].tolist() == [0, 2, 4]  # and stored again, readable


def stamp(label, log):  # noqa: ANN001, ANN201 - a slow unit
    import time

    time.sleep(0.4)
    Path(log).open("a").write(f"{label}\n")
    return {"name": label}


def _session_units(log, fail=False):  # noqa: ANN001, ANN202 - a graph grown in two submissions, as an experiment grows
    plan = Plan()
    a = plan.add("a", square, x=np.array([1, 2]), log=str(log))
    b = plan.add("b", square, x=np.array([3]), log=str(log))
    slow = plan.add("slow", stamp, label="slow", log=str(log))
    yield plan  # first submission: a, b and a slow unit nothing waits for
    plan.add("sum", total, a=a, b=b, log=str(log))
    plan.add("nested", fragile_all, parts={"first": [a, b], "slow": slow}, fail=fail)
    yield plan


def fragile_all(parts, fail):  # noqa: ANN001, ANN201
    if fail:
        raise ValueError("planted failure")
    return [float(p["y"].sum()) for p in parts["first"]] + [parts["slow"]["name"]]


@pytest.mark.parametrize("workers", [None, 2])
def test_a_session_grows_one_graph_and_waits_only_for_what_it_needs(tmp_path, by_value, workers):
    from syncact.units import Executor

    log = tmp_path / "log"
    with Executor(workers=workers).session(tmp_path / "units", progress=False) as session:
        stages = _session_units(log)
        session.submit(next(stages))
        got = session.results(["a", "b"])  # on Dask, returns while "slow" may still run
        assert got["a"]["y"].tolist() == [1.0, 4.0]
        session.submit(next(stages))  # units that depend on units submitted before
        done = session.finish()
    assert done["sum"] == 1 + 4 + 9
    assert done["nested"] == [5.0, 9.0, "slow"]  # Deps inside a dict of lists are resolved
    plan = next(_session_units(log))
    assert plan.units["a"].deps == [] and list(_session_units(log))[-1].units["nested"].deps == ["a", "b", "slow"]
    again = run_plan(list(_session_units(log))[-1], tmp_path / "units", progress=False)
    assert sorted(again.reused) == ["a", "b", "nested", "slow", "sum"] and again.computed == []


@pytest.mark.parametrize("workers", [None, 2])
def test_a_session_names_failures_after_the_others_finish(tmp_path, by_value, workers):
    from syncact.units import Executor

    with Executor(workers=workers).session(tmp_path / "units", progress=False) as session:
        stages = _session_units(tmp_path / "log", fail=True)
        session.submit(next(stages))
        session.submit(next(stages))
        with pytest.raises(UnitsFailed, match="nested .*planted failure") as info:
            session.results(["nested"])
        with pytest.raises(ConfigError, match="not submitted"):
            session.results(["nope"])
    assert [f.unit for f in info.value.failures] == ["nested"]
    assert len(list((tmp_path / "units").glob("*.pkl"))) + len(list((tmp_path / "units").glob("*.npz"))) == 4


def test_on_dask_results_travel_through_the_store(tmp_path, by_value):
    from syncact.units import StoredResults, execute_stored

    log = tmp_path / "log"
    plan = _plan(log)
    store = tmp_path / "units"
    store.mkdir()
    units = plan.units
    for name in ("square/a", "square/b"):  # what a worker does: the unit's result goes to the store, a receipt back
        assert execute_stored(units[name], str(store), None, []) == name
    deps = [units[d] for d in units["total"].deps]
    assert execute_stored(units["total"], str(store), None, deps, "square/a", "square/b") == "total"
    assert log.read_text().count("total") == 1
    assert execute_stored(units["total"], str(store), None, deps) == "total"  # finished: not computed again
    assert log.read_text().count("total") == 1
    results = StoredResults(store, units)  # what the driver reads, when it asks
    assert results["total"] == 1 + 4 + 9 + 16 + 25 and results["square/b"]["y"].tolist() == [16.0, 25.0]
    assert len(results) == 4 and list(results) == list(units)
    with pytest.raises(FileNotFoundError, match="'fragile' has no result in"):
        results["fragile"]
    for path in store.glob("square/a.*"):
        path.unlink()
    with pytest.raises(FileNotFoundError, match="'square/a' has no result"):  # a worker whose input is gone says which
        execute_stored(units["fragile"], str(store), None, [units["square/a"]])
