"""Train qa's reader (qa/answer/reader.py): the packaged all-MiniLM-L6-v2 with rank-R updates and a start/end head.

    python -m train.reader prepare [--sets ...]    # qa's own retrieval for every question of both sets
    python -m train.reader train --fold 0|1        # held-out figures: bench/results/reader_fold{F}.npz
    python -m train.reader train --all             # what ships: qa/data/reader.npz
    [--device cuda] [--epochs 3] [--rank 16] [--lr 1e-3]
    [--init qa/data/reader.npz]   # train further from a trained reader (its articles count as trained on)
    [--per-set N]                 # at most N examples of each set an epoch, a new draw each epoch
    [--per-set 300,realtimeqa-dev=600]   # ... or N of each set but the ones named
    [--held-sets realtimeqa-dev]  # held-out figures of these sets only; --epochs 0: of --init as it is

The reader reads the passages qa's retriever returns for a question, as `qa ask` does, so it is trained on them:
`prepare` (train/reader_data.py) retrieves the best K passages of each question of squad-dev16 and realtimeqa-dev
and writes, per question, one example with those K passages (the passage holding the gold answer put in place of
the K-th when retrieval missed it) and one example of K passages holding no gold answer string at all (the same
question's next-best passages): the answer is then "none of these", pointed at by the passages' [CLS] tokens, as
SQuAD 2.0 readers learn it. The shipped reader is the squad-dev16 reader (commit 6539ef7's qa/data/reader.npz, 6
epochs on squad-dev16 alone) trained further on both sets on 2 cores, one epoch of 300 examples of each (19
minutes; the fold readers of its held-out figures the same way, 15 and 12 minutes):

    git show 6539ef7:qa/data/reader.npz > bench/results/reader_squad.npz
    python -m train.reader train --fold 0|1 --init bench/results/reader_squad.npz --per-set 300 --epochs 1 \
        --held-sets realtimeqa-dev
    python -m train.reader train --all --init bench/results/reader_squad.npz --per-set 300 --epochs 1 --held-sets none

Retraining on every example of both sets takes a GPU (`--device cuda`, minutes) or most of a day on 2 cores. A
reader trained further (`--init`) keeps what made its start in its stamp (`init_stamp`). The loss is normalised
over all K passages together (Clark & Gardner 2018, "shared normalisation"), so that span scores compare across
passages: the reader chooses the passage too, not only the span. Targets: train/reader_data.py.

`prepare --near-misses` adds, per question, its K passages with every sentence holding a gold answer deleted,
answered "none" (SQuAD 2.0's near misses: the question's own story without its fact, what `qa ask` must refuse).
Tried 2026-11-22 (6 epochs, batch 16, lr 1e-3, on an H100), not shipped: held out, the best span's score over
"none" told answerable from near-miss passages at ROC AUC 0.83 / 0.88, but the refusal gate refitted with it
(train/gate.py --names support,cosine,passage,reader) caught no more of train/gate.py's near misses (recall
0.54 / 0.49 at precision 0.64 / 0.72, against 0.54 / 0.53 at 0.64 / 0.71), the seed questions' refusal recall
stayed 0.769 (no-interpreter's reader signal fell from +4.8 to -13.6, but no-russian-ambassador's stays +9.5 and
answerable ones fell too), and the sentence choice lost 0.4 points held out (0.786 against 0.791; spans exactly
gold 0.39 / 0.44 against 0.40 / 0.45). A separate answerable output on [CLS] learnt from the near misses, with the
start/end learning from the rest as before, did worse on both (AUC 0.80 / 0.86, spans 0.36 / 0.43). Without near
misses, --rank 64 (4.9 MB) read no better than the shipped 16: spans exactly gold 0.39 / 0.45.

Folds are train.common's halves (squad-dev16 by article, realtimeqa-dev by quiz week; data prepared before the
`fold` column: article parity): a fold's model is trained on the other half, so that bench/answers.py --reader-cv
answers every question with a reader that never saw it. `train` needs torch and numpy only (it reads the token
ids `prepare` wrote and the model's weights), so it runs as well on a GPU machine with no qa installed: `--model
DIR` names a copy of the model (config.json, model.safetensors) there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.reader import LORA_TARGETS, MAX_LEN

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may touch the network
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATA = RESULTS / "reader_data.npz"


# ---- training (torch and numpy only) -------------------------------------------------------------------------


def train(args: argparse.Namespace) -> None:
    import torch

    torch.manual_seed(0)
    device = torch.device(args.device)
    z = np.load(args.data)
    ids = torch.from_numpy(z["ids"].astype(np.int64))
    article, none, tgt = z["article"], z["none"], z["targets"]
    kind = z["kind"] if "kind" in z.files else none.astype(np.int8)
    fold = z["fold"] if "fold" in z.files else article % 2
    held = (fold == args.fold) if args.fold >= 0 else np.zeros(len(article), dtype=bool)
    train_ex, test_ex = np.flatnonzero(~held), np.flatnonzero(held)
    if args.limit:  # a smoke run
        train_ex, test_ex = train_ex[: args.limit], test_ex[: args.limit]
    of_set = z["set"] if "set" in z.files else np.zeros(len(article), dtype=np.int8)
    names = [str(n) for n in z["sets"]] if "sets" in z.files else ["squad-dev16"]
    if args.held_sets:  # held-out figures of these sets only (an --init reader has seen the others' every article)
        chosen = [names.index(n) for n in args.held_sets.split(",") if n in names]  # "none": no figures
        test_ex = test_ex[np.isin(of_set[test_ex], chosen)]
    E, Kp, L = ids.shape
    starts = torch.zeros((E, Kp * L), dtype=torch.bool)
    ends = torch.zeros((E, Kp * L), dtype=torch.bool)
    for e, k, s, t in tgt:
        starts[e, k * L + s] = True
        ends[e, k * L + t] = True
    for e in np.flatnonzero(none):  # "none of these": the passages' [CLS] tokens
        starts[e, torch.arange(Kp) * L] = True
        ends[e, torch.arange(Kp) * L] = True
    model = build_model(args.model, args.rank)
    seen = load_trained(model, args.init) if args.init else []
    model = model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    print(f"{len(train_ex)} examples to train, {len(test_ex)} held out; "
          f"{sum(p.numel() for p in params):,} parameters trained on {device}", flush=True)  # fmt: skip
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    caps = set_caps(args.per_set, names)
    per_epoch = len(epoch_examples(train_ex, of_set, caps, 0))
    steps = args.epochs * ((per_epoch + args.batch - 1) // args.batch)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min((i + 1) / warm, max(0.0, (steps - i) / max(1, steps))))
    history = []
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = epoch_examples(train_ex, of_set, caps, epoch)
        total = 0.0
        for b in range(0, len(order), args.batch):
            rows = torch.from_numpy(order[b : b + args.batch])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                s, e = model(ids[rows].to(device))
            loss = _shared_loss(s.float(), starts[rows].to(device)) + _shared_loss(e.float(), ends[rows].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(rows)
        row = {"epoch": epoch + 1, "loss": total / len(order), "s": round(time.perf_counter() - t0, 1)}
        history.append(row | held_out(model, ids, starts, ends, kind, test_ex, of_set, names, device))
        print(json.dumps(history[-1]), flush=True)
    if not args.epochs:  # --epochs 0: the held-out figures of --init as it is
        history.append({"epoch": 0} | held_out(model, ids, starts, ends, kind, test_ex, of_set, names, device))
        print(json.dumps(history[-1]), flush=True)
    figures = {k: v for k, v in history[-1].items() if k not in ("epoch", "loss", "s")} if len(test_ex) else None
    save(model, args, history, z["articles"], article, held, figures, seen)


def held_out(
    model: Any, ids: Any, starts: Any, ends: Any, kind: Any, rows: Any, of_set: Any, names: list[str], device: Any
) -> dict:
    """evaluate()'s figures on the held-out examples, for each set apart (squad-dev16_span_hit, ...)."""
    out = {}
    for s in np.unique(of_set[rows]) if len(rows) else ():
        for key, value in evaluate(model, ids, starts, ends, kind, rows[of_set[rows] == s], device).items():
            out[f"{names[s]}_{key}"] = round(value, 4)
    return out


def set_caps(spec: str, names: list[str]) -> dict[int, int]:
    """--per-set: "N" (at most N examples of each set an epoch), "N,name=M,..." (M of the sets named, N of the
    others), or "" / "0" (every example): each set's index in the data -> its cap (0: no cap)."""
    default, caps = 0, {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, eq, value = part.rpartition("=")
        if not value.isdigit():
            raise SystemExit(f"--per-set {spec!r}: {part!r} is not a count (N or name=N)")
        if not eq:
            default = int(value)
        elif name in names:
            caps[names.index(name)] = int(value)
        else:
            raise SystemExit(f"--per-set {spec!r}: no set {name!r} in the data (its sets: {', '.join(names)})")
    return {s: caps.get(s, default) for s in range(len(names))}


def epoch_examples(examples: np.ndarray, of_set: np.ndarray, caps: dict[int, int], epoch: int) -> np.ndarray:
    """An epoch's examples in a random order: every one, or at most `caps[s]` of each set s that has a cap (a
    different draw each epoch), so that a small set weighs as much as a large one."""
    rng = np.random.default_rng(epoch)
    if any(caps.values()):
        drawn = [
            rng.permutation(examples[of_set[examples] == s])[: caps.get(int(s)) or None]
            for s in np.unique(of_set[examples])
        ]
        examples = np.concatenate(drawn)
    return rng.permutation(examples)


def load_trained(model: Any, path: str) -> list[str]:
    """Start from a trained reader's rank updates and head (`--init`: qa/data/reader.npz, or a fold reader);
    the articles it was trained on, which the new reader has then seen too."""
    import torch

    with np.load(path) as z:
        info = json.loads(str(z["info"]))
        for name, p in model.named_parameters():
            if p.requires_grad:
                key = _saved_key(name)
                if key not in z.files or z[key].shape != tuple(p.shape):
                    raise SystemExit(f"{path} has no {key} of shape {tuple(p.shape)} (rank {info['rank']}?): "
                                     "pass the --rank it was trained with")  # fmt: skip
                p.data.copy_(torch.from_numpy(z[key].astype(np.float32)))
    return list(info.get("trained_on", []))


def _saved_key(name: str) -> str:
    """A trained parameter's name in the weights file (qa/answer/reader.py's names: no "base.", no ".linear")."""
    return name.removeprefix("base.").replace(".linear", "")


def _shared_loss(logits: Any, target: Any) -> Any:
    """-log of the probability of the target positions, normalised over every token of all K passages."""
    import torch

    return (torch.logsumexp(logits, -1) - torch.logsumexp(logits.masked_fill(~target, -1e4), -1)).mean()


def evaluate(model: Any, ids: Any, starts: Any, ends: Any, kind: np.ndarray, rows: np.ndarray, device: Any) -> dict:
    """On held-out examples: how often the best span over the K passages is a gold span (start and end both
    gold, in one passage), and how well the best span's score over the "none" score tells the examples with an
    answer from those without (ROC AUC), from those of other passages and from the near misses."""
    import torch

    from qa.answer.reader import best_span

    model.eval()
    _, Kp, L = ids.shape
    hit, margin = [], []
    with torch.no_grad():
        for b in range(0, len(rows), 64):
            r = torch.from_numpy(rows[b : b + 64])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                s, e = model(ids[r].to(device))
            s, e = s.float().cpu().numpy(), e.float().cpu().numpy()
            x = ids[r].numpy()
            for j, ex in enumerate(r.tolist()):
                best, at = -1e9, (0, 0, 0)
                for k in range(Kp):
                    passage = _passage_mask(x[j, k])
                    score, a, c = best_span(s[j, k * L : (k + 1) * L], e[j, k * L : (k + 1) * L], passage)
                    if score > best:
                        best, at = score, (k, a, c)
                null = max(s[j, k * L] + e[j, k * L] for k in range(Kp))
                margin.append((best - null, int(kind[ex])))
                if not kind[ex]:
                    k, a, c = at
                    hit.append(bool(starts[ex, k * L + a] and ends[ex, k * L + c]))
    return {
        "span_hit": float(np.mean(hit)),
        "none_auc": _auc([(m, k == 0) for m, k in margin if k < 2]),
        "near_auc": _auc([(m, k == 0) for m, k in margin if k != 1]),
    }


def _passage_mask(ids: np.ndarray) -> np.ndarray:
    """The tokens of the passage (after the question's [SEP], before the last [SEP])."""
    seps = np.flatnonzero(ids == 102)
    out = np.zeros(len(ids), dtype=bool)
    if len(seps) >= 2:
        out[seps[0] + 1 : seps[1]] = True
    return out


def _auc(rows: list[tuple[float, bool]]) -> float:
    pos = np.array([s for s, y in rows if y])
    neg = np.array([s for s, y in rows if not y])
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = np.concatenate([pos, neg]).argsort().argsort() + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def build_model(model_dir: str, rank: int) -> Any:
    import torch
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    config = BertConfig.from_json_file(str(Path(model_dir) / "config.json"))
    base = BertModel(config, add_pooling_layer=False)
    state = {k: v.float() for k, v in load_file(str(Path(model_dir) / "model.safetensors")).items()}
    base.load_state_dict(state, strict=False)
    base.requires_grad_(False)

    class LoRA(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.linear = linear
            self.a = torch.nn.Parameter(torch.randn(rank, linear.in_features) * 0.01)
            self.b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) + (x @ self.a.T @ self.b.T) * (2.0 * 16 / rank)

    for name, module in list(base.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}"
            if isinstance(child, torch.nn.Linear) and full.startswith("encoder.") and full.endswith(LORA_TARGETS):
                setattr(module, child_name, LoRA(child))

    class Reader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = base
            self.head = torch.nn.Linear(config.hidden_size, 2)

        def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Start and end logits of each example's K passages, flattened to (examples, K * L)."""
            n, k, length = ids.shape
            flat = ids.reshape(n * k, length)
            mask = (flat != 0).long()
            # token type 1 from the first [SEP] on (the passage), as the tokenizer's pair encoding sets it
            types = ((flat == 102).cumsum(-1) > 0).long() - (flat == 102).long() * ((flat == 102).cumsum(-1) == 1)
            hidden = self.base(input_ids=flat, attention_mask=mask, token_type_ids=types).last_hidden_state
            logits = self.head(hidden).masked_fill((mask == 0)[..., None], -1e4)
            return logits[..., 0].reshape(n, k * length), logits[..., 1].reshape(n, k * length)

    return Reader()


def save(
    model: Any,
    args: argparse.Namespace,
    history: list,
    articles: Any,
    article: Any,
    held: Any,
    figures: Any = None,
    seen: list[str] | None = None,
) -> None:
    state = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            state[_saved_key(name)] = p.detach().float().cpu().numpy().astype(np.float16)
    # an --init reader's articles count as trained on: a reader trained further has seen what its start saw
    trained_on = sorted({str(articles[a]) for a in np.unique(article[~held])} | set(seen or ()))
    info = {
        "rank": args.rank,
        "scale": 2.0 * 16 / args.rank,
        "max_len": MAX_LEN,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch": args.batch,
        "trained_on": trained_on,
        "held_fold": args.fold,  # the half it never saw (-1: none, the shipped reader)
        "history": history,
        "init": args.init or None,
        "per_set": args.per_set if args.per_set not in ("", "0") else None,
    }
    out = Path(args.out) if args.out else (
        ROOT / "qa/data/reader.npz" if args.fold < 0 else RESULTS / f"reader_fold{args.fold}.npz"
    )  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    with np.load(args.data) as z:
        data = json.loads(str(z["data"])) if "data" in z.files else {}
    made = {
        "script": "train/reader.py",
        "args": sys.argv[1:],
        "commit": _commit(),
        "data": data,
        # the shipped reader trains on every article: its held-out figures are the fold readers' (train --fold)
        "held_out": figures or "see the fold readers: train --fold 0|1",
        "written": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
    }
    if args.init:  # what made the reader it started from
        with np.load(args.init) as z:
            made["init_stamp"] = json.loads(str(z["stamp"])) if "stamp" in z.files else None
    np.savez_compressed(out, info=np.array(json.dumps(info)), stamp=np.array(json.dumps(made)), **state)
    print(f"-> {out} ({out.stat().st_size / 1e6:.1f} MB)", flush=True)


def _commit() -> str:
    """The commit this runs from (train/common.py's, without importing qa's heavy parts on a bare GPU machine)."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", type=Path, default=DATA)
    p.add_argument("--sets", default="", help="comma-separated (default: squad-dev16,realtimeqa-dev)")
    p.add_argument("--limit", type=int, default=0, help="the first N questions of each set (a smoke run)")
    p.add_argument(
        "--near-misses",
        action="store_true",
        help="also each question over its passages with the "
        "sentences holding its answer deleted, answered 'none' (tried: see the module's docstring)",
    )
    t = sub.add_parser("train")
    t.add_argument("--fold", type=int, default=-1, help="hold out the articles of this half (0 or 1)")
    t.add_argument("--all", action="store_true", help="train on every article: the reader that ships")
    t.add_argument("--data", type=Path, default=DATA)
    t.add_argument("--model", default="", help="the model's folder (default: the packaged MiniLM)")
    t.add_argument("--device", default="cpu")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--rank", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch", type=int, default=8, help="questions a step (each K passages)")
    t.add_argument("--out", default="")
    t.add_argument("--init", default="", help="start from this trained reader (e.g. qa/data/reader.npz)")
    t.add_argument(
        "--held-sets", default="", help="comma-separated: held-out figures of these sets only (none: no figures)"
    )
    t.add_argument("--per-set", default="", help="at most N examples of each set an epoch (N or N,name=M,...)")
    t.add_argument("--limit", type=int, default=0, help="train on N examples and hold out N (a smoke run)")
    args = ap.parse_args()
    if args.cmd == "prepare":
        from train.reader_data import prepare

        prepare(args.out, args.near_misses, tuple(filter(None, args.sets.split(","))), args.limit)
        return
    if args.all == (args.fold >= 0):
        ap.error("train needs one of --fold 0|1 or --all")
    if not args.model:
        from qa.config import DEFAULT_MODEL
        from qa.embed.base import model_path

        args.model = model_path(DEFAULT_MODEL)
    train(args)


if __name__ == "__main__":
    main()
