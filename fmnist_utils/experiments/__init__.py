"""One module per chapter: its parameters (profiles), the runs it needs, and its study claims.

Chapters and the CLI both ask these modules for the run list, so ``fmnist-book train`` fills exactly
the store entries a chapter will read.
"""
from . import baseline_vs_deeper

CHAPTERS = {
    "baseline_vs_deeper": baseline_vs_deeper,
}
