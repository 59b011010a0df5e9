"""JupyterLab as users meet it: started like the Docker image, driven in headless Chromium.

Opens notebook 01, runs it, types a query into the similarity explorer and checks that the
neighbours table appears; opens notebook 02, runs it and filters the error browser's
mistakes by task and true label. Screenshots go to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow  # a browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "tests" / "artifacts"
TOKEN = "sentence-mtl-browser-test"
QUERY = "Which sentence is about a football match?"
# Notebook 02's minute of projection training, which no widget here needs (nbval runs it).
SKIPPED_SECTION = "## 7 · A smaller sentence vector"


def copy_without_section(notebook: Path, folder: Path, heading: str) -> None:
    """Copy ``notebook`` into ``folder`` without the cells from ``heading`` to the next
    "## " heading (the browser runs every cell; the widgets come after that section)."""
    import nbformat

    book = nbformat.read(notebook, as_version=4)
    start = next(i for i, cell in enumerate(book.cells) if cell.source.startswith(heading))
    end = next(i for i in range(start + 1, len(book.cells))
               if book.cells[i].cell_type == "markdown" and book.cells[i].source.startswith("## "))
    book.cells = book.cells[:start] + book.cells[end:]
    nbformat.write(book, folder / notebook.name)


def image_command() -> list[str]:
    """The Dockerfile's CMD, served on loopback instead of 0.0.0.0 (this machine's rule)."""
    cmd = re.search(r"^CMD \[(.+)\]$", (REPO / "Dockerfile").read_text(), re.M).group(1)
    parts = [part.strip().strip('"') for part in cmd.split(",")]
    return [("LAB_IP=127.0.0.1" if part.startswith("LAB_IP=") else part) for part in parts]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        message = (f"Chromium not found at {CHROMIUM}: the browser test cannot run. Install "
                   "Debian's chromium (`make browser-deps` does it as root).")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    notebooks = tmp_path_factory.mktemp("notebooks")  # a copy: running cells never edits ours
    shutil.copy2(REPO / "notebooks" / "01_sentence_embeddings.ipynb", notebooks)
    copy_without_section(REPO / "notebooks" / "02_multitask_model.ipynb", notebooks,
                         SKIPPED_SECTION)
    workspaces = tmp_path_factory.mktemp("workspaces")  # nothing restored from earlier runs
    port = free_port()
    command = [part if not part.startswith("PORT=") else f"PORT={port}"
               for part in image_command()] + [f"NOTEBOOK_DIR={notebooks}"]
    log = (tmp_path_factory.mktemp("lab") / "lab.log").open("w")
    server = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "JUPYTER_TOKEN": TOKEN,
                                   "JUPYTERLAB_WORKSPACES_DIR": str(workspaces)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            assert server.poll() is None, Path(log.name).read_text()
            time.sleep(0.5)
    else:
        server.terminate()
        pytest.fail(f"JupyterLab did not answer within 120 s:\n{Path(log.name).read_text()}")
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


@contextlib.contextmanager
def notebook_run(lab: str, notebook: str, screenshot: str):
    """Open ``notebook`` in JupyterLab in headless Chromium, run all cells, yield the page;
    a screenshot is saved whatever happens."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            # ?reset: open only this notebook, not the tabs a saved workspace would restore
            page.goto(f"{lab}/lab/tree/{notebook}?reset&token={TOKEN}")
            expect(page.locator(".jp-Notebook").first).to_be_visible(timeout=60_000)
            choose_kernel = page.get_by_role("dialog").get_by_role("button", name="Select")
            with contextlib.suppress(PlaywrightTimeout):  # a fresh JupyterLab may ask
                choose_kernel.click(timeout=15_000)      # which kernel to start
            expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            yield page
        finally:
            page.screenshot(path=str(ARTIFACTS / screenshot))
            browser.close()


def test_similarity_explorer_in_jupyterlab(lab):
    from playwright.sync_api import expect

    with notebook_run(lab, "01_sentence_embeddings.ipynb",
                      "jupyterlab_similarity_explorer.png") as page:
        query = page.locator(".widget-text input[type='text']").last
        expect(query).to_be_visible(timeout=240_000)
        query.fill(QUERY)
        query.press("Enter")
        answer = page.get_by_text(f"Nearest to: '{QUERY}'")
        expect(answer).to_be_visible(timeout=120_000)
        answer.scroll_into_view_if_needed()
        # the lab's shipped settings (jupyter/overrides.json) switch the news prompt off
        expect(page.get_by_text("official Jupyter news")).to_have_count(0)
        table = page.locator(".widget-output table").last
        expect(table).to_contain_text("The striker scored twice")


def test_error_browser_in_jupyterlab(lab):
    """Notebook 02's error browser: pick a task and a true label, see only those mistakes."""
    from playwright.sync_api import expect

    with notebook_run(lab, "02_multitask_model.ipynb", "jupyterlab_error_browser.png") as page:
        task, true = (page.locator(".widget-dropdown select").nth(i) for i in (0, 1))
        expect(task).to_be_visible(timeout=240_000)
        task.select_option("sentiment")
        expect(true).to_contain_text("negative", timeout=60_000)
        true.select_option("negative")
        table = page.locator(".widget-output table").last
        true_column = table.locator("tbody tr td:nth-child(3)")
        # The table is redrawn by the kernel after the choice: wait until no other label is
        # left (the unfiltered table also contains "negative", so that alone proves nothing).
        expect(true_column.filter(has_not_text="negative")).to_have_count(0, timeout=60_000)
        expect(true_column.first).to_have_text("negative", timeout=60_000)
        expect(page.get_by_text("shown (highest loss first)").last).to_be_visible()
        assert set(true_column.all_inner_texts()) == {"negative"}
