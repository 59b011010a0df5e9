"""Write the label table of data/README.md from data/sentences.csv.

Run ``python -m helpers.datacard``; the table between the ``label-table`` markers is
regenerated, so the card never disagrees with the data (a test compares them).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .data import DATA_DIR, read_sentences_frame

CARD = DATA_DIR / "README.md"
START, END = "<!-- label-table:start -->", "<!-- label-table:end -->"


def label_table(frame: pd.DataFrame) -> str:
    """Rows per topic × sentiment, per split and in total, as a Markdown table."""
    counts = pd.crosstab([frame["topic"], frame["sentiment"]], frame["split"])
    counts = counts[[s for s in ("train", "validation", "test") if s in counts.columns]]
    counts["total"] = counts.sum(axis=1)
    counts.loc[("all", ""), :] = counts.sum()
    lines = ["| topic | sentiment | " + " | ".join(counts.columns) + " |",
             "| --- | --- | " + " | ".join("---:" for _ in counts.columns) + " |"]
    for (topic, sentiment), row in counts.iterrows():
        lines.append(f"| {topic} | {sentiment} | " + " | ".join(str(int(v)) for v in row) + " |")
    return "\n".join(lines)


def render_card(card_text: str, table: str) -> str:
    """``card_text`` with the table between the markers replaced by ``table``."""
    head, rest = card_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(card: Path = CARD) -> None:
    card.write_text(render_card(card.read_text(), label_table(read_sentences_frame())))
    print(f"updated {card}")


if __name__ == "__main__":
    main()
