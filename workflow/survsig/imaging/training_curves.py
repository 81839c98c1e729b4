"""Training curves of the signature networks, from their training histories.

Training and validation loss and validation C-index per epoch, the kept epoch and the
snapshot epochs marked; one panel per ensemble member.
"""

from __future__ import annotations

import numpy as np

from survsig.core.figures import new_figure, styled


def kept_epoch(history):
    """The epoch whose weights were kept (``kept`` = 1 in the history), or None."""
    kept = [h["epoch"] for h in history if h.get("kept") == 1]
    return kept[0] if kept else None


@styled()
def plot_training_curves(history, *, title, best_epoch=None, ax=None, legend=True, kept_label=None):
    """Training and validation loss and validation C-index per epoch (two axes).

    ``best_epoch`` (the epoch whose weights were kept) is marked with a dotted line,
    labelled ``kept_label`` (default: "kept epoch (N)"); the snapshot epochs (``snapshot``
    = 1 in the history) are circled on the validation C-index.
    """
    if ax is None:
        ax = new_figure(7.0, 4.5).add_subplot()
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], "-o", ms=3, label="training loss")
    # the validation loss ranks the whole fold at once, so it sits higher than batch losses
    ax.plot(epochs, [h["val_loss"] for h in history], "-o", ms=3, label="validation loss (whole fold)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("negative Cox partial log-likelihood per event")
    right = ax.twinx()
    right.plot(epochs, [h["val_cindex"] for h in history], "-s", ms=3, color="tab:green", label="validation C-index")
    smoothed = [h.get("val_cindex_smoothed", np.nan) for h in history]
    right.plot(epochs, smoothed, "--", color="darkgreen", lw=1.2, label="validation C-index, running mean")
    snapshots = [h for h in history if h.get("snapshot") == 1]
    if len(snapshots) > 1:
        right.plot(
            [h["epoch"] for h in snapshots],
            [h["val_cindex"] for h in snapshots],
            "o",
            ms=8,
            mfc="none",
            mec="black",
            label="snapshot epochs (averaged)",
        )
    right.set_ylabel("validation C-index")
    right.set_ylim(0.3, 1.0)
    if best_epoch is not None:
        right.axvline(best_epoch, color="grey", ls=":", lw=1, label=kept_label or f"kept epoch ({best_epoch})")
    lines = ax.get_lines() + right.get_lines()
    if legend:
        ax.legend(
            lines,
            [line.get_label() for line in lines],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=3,
            fontsize=8,
            frameon=False,
        )
        ax.figure.subplots_adjust(bottom=0.25, right=0.88)
    ax.set_title(title)
    return ax


@styled()
def plot_member_training_curves(histories, *, title):
    """Training curves of every member of a model, one panel each (legend below the last).

    Parameters
    ----------
    histories : list of list of dict
        Per member, its history rows (``kept`` = 1 marks the kept epoch).
    """
    if len(histories) == 1:
        return plot_training_curves(histories[0], title=title, best_epoch=kept_epoch(histories[0])).figure
    height = 3.0 * len(histories) + 1.2
    fig = new_figure(7.0, height)
    axes = fig.subplots(len(histories), 1, sharex=True)
    for member, (history, ax) in enumerate(zip(histories, axes)):
        kept = kept_epoch(history)
        plot_training_curves(
            history,
            title=f"member {member}" + (f", kept epoch {kept}" if kept else ""),
            best_epoch=kept,
            ax=ax,
            legend=member == len(histories) - 1,
            kept_label="kept epoch (in each title)",
        )
        ax.set_ylabel("")
        if member < len(histories) - 1:
            ax.set_xlabel("")
    # one label for the shared quantity: the full text does not fit beside a short panel
    fig.supylabel("negative Cox partial log-likelihood per event", fontsize=10)
    fig.suptitle(title)
    fig.subplots_adjust(bottom=1.2 / height, top=1 - 0.85 / height, left=0.12, right=0.88, hspace=0.35)
    return fig
