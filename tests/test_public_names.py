"""``helpers`` loads names on first use, and every public name stays importable from it."""

import subprocess
import sys

import helpers
import helpers.training

from .conftest import REPO


def test_every_public_name_of_helpers_and_training_resolves():
    for package in (helpers, helpers.training):
        missing = [name for name in package.__all__ if getattr(package, name, None) is None]
        assert not missing, f"{package.__name__}: {missing}"


def test_modules_moved_into_training_stay_importable_from_helpers():
    from helpers import batching, optim, weighting
    from helpers.training import batching as moved_batching
    from helpers.training import optim as moved_optim
    from helpers.training import weighting as moved_weighting

    assert (batching, optim, weighting) == (moved_batching, moved_optim, moved_weighting)
    assert helpers.weighting.make_weighting is moved_weighting.make_weighting


def test_an_unknown_name_is_an_attribute_error_naming_it():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'frezee'"):
        helpers.frezee  # noqa: B018


def test_the_command_line_imports_no_plotting_training_data_libraries_or_widgets():
    probe = ("import sys, helpers.cli, helpers.multitask, helpers.default_model as d; "
             "helpers.cli.quiet_libraries(); d.default_model_dir(); "
             "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'sklearn', 'peft', "
             "'datasets', 'pandas', "
             "'helpers.training.loop', 'helpers.training.callbacks', 'helpers.plots') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
