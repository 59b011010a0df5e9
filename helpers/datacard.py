"""Write the generated tables of data/README.md from the shipped data.

Run ``python -m helpers.datacard``; the tables between the ``label-table``, ``label-cues``
and ``challenge-table`` markers are regenerated, so the card never disagrees with the data
(a test compares them). Everything here is counting, the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .data import read_challenge_frame, read_sentences_frame
from .tasks import DATA_DIR

CARD = DATA_DIR / "README.md"
SPLITS = ("train", "validation", "test")


def _markdown(frame: pd.DataFrame, index_names: list[str]) -> str:
    """A DataFrame with a (multi-)index as a Markdown table, numbers right-aligned."""
    lines = ["| " + " | ".join([*index_names, *map(str, frame.columns)]) + " |",
             "| " + " | ".join(["---"] * len(index_names) + ["---:"] * len(frame.columns)) + " |"]
    for key, row in frame.iterrows():
        keys = key if isinstance(key, tuple) else (key,)
        lines.append("| " + " | ".join([*map(str, keys), *map(str, row)]) + " |")
    return "\n".join(lines)


def label_table(frame: pd.DataFrame) -> str:
    """Rows per topic × sentiment, per split and in total."""
    counts = pd.crosstab([frame["topic"], frame["sentiment"]], frame["split"])
    counts = counts[[s for s in SPLITS if s in counts.columns]]
    counts["total"] = counts.sum(axis=1)
    counts.loc[("all", ""), :] = counts.sum()
    return _markdown(counts.astype(int), ["topic", "sentiment"])


def label_cues(frame: pd.DataFrame) -> str:
    """Per split and sentiment: rows, share of questions and of exclamation marks — surface
    cues a classifier could learn instead of the meaning."""
    rows = []
    for (split, sentiment), part in frame.groupby(["split", "sentiment"], sort=False):
        share = {mark: f"{100 * part['text'].str.contains(mark, regex=False).mean():.0f}"
                 for mark in "?!"}
        rows.append({"split": split, "sentiment": sentiment, "rows": len(part),
                     "questions %": share["?"], "with ! %": share["!"]})
    table = pd.DataFrame(rows)
    table["split"] = pd.Categorical(table["split"], SPLITS)
    table = table.sort_values(["split", "sentiment"]).set_index(["split", "sentiment"])
    return _markdown(table, ["split", "sentiment"])


def challenge_table(frame: pd.DataFrame) -> str:
    """Rows of the challenge set per category and sentiment."""
    counts = pd.crosstab(frame["category"], frame["sentiment"])
    counts["total"] = counts.sum(axis=1)
    counts.loc["all", :] = counts.sum()
    return _markdown(counts.astype(int), ["category"])


def render_card(card_text: str, tables: dict[str, str]) -> str:
    """``card_text`` with each ``<!-- NAME:start -->`` … ``end`` block replaced."""
    for name, table in tables.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = card_text.split(start, 1)
        _, tail = rest.split(end, 1)
        card_text = f"{head}{start}\n{table}\n{end}{tail}"
    return card_text


def card_tables() -> dict[str, str]:
    sentences = read_sentences_frame()
    return {"label-table": label_table(sentences), "label-cues": label_cues(sentences),
            "challenge-table": challenge_table(read_challenge_frame())}


def main(card: Path = CARD) -> None:
    card.write_text(render_card(card.read_text(), card_tables()))
    print(f"updated {card}")


if __name__ == "__main__":
    main()
