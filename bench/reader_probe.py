"""Can the packaged MiniLM become an extractive reader? A probe, not part of qa.

    python bench/reader_probe.py [--top 2] [--epochs 3] [--max-len 192] [--lr 1e-4] [--fold 0] [--lora R]

The SQuAD logistic-regression baseline (F1 51) reads the gold paragraph. This fine-tunes the top --top layers of
the packaged all-MiniLM-L6-v2 (the lower layers frozen: their output is computed once and cached) with a start/end
head on the squad-dev16 questions of half the articles, and reads the gold paragraphs of the other half's: EM/F1
there say whether a reader built from the packaged model, trained on what is here, could carry qa's answers past
the goal. --lora R trains rank-R updates of the top layers' linear maps instead of the layers (what would ship is
then a few hundred KB, not the layers). Writes bench/results/reader_probe_top{N}[_lora{R}].json.

Measured 2026-11-22 (fold 0: 1,914 questions to train, 2,392 to read, max-len 192, lr 1e-4; 2 cores):
top 2 layers, 4 epochs: F1 0.228 / 0.270 / 0.295 / 0.298 (EM 0.206); top 4, 3 epochs: F1 0.480 / 0.522 / 0.524
(EM 0.406); all 6 (embeddings frozen), 3 epochs, 19 min: F1 0.548 / 0.590 / 0.588 (EM 0.478).
--retrieved 3 (all 6 layers, 2 epochs: F1 0.579 on gold paragraphs): read from the best 3 passages qa retrieves
among all 16 articles, the best span by its logits over all of them: EM 0.327, F1 0.421, and the sentence holding
it holds a gold answer for 0.594 (qa's sentence choice: 0.74) — a reader trained on gold paragraphs alone ranks
spans across passages badly; 171 ms a question in torch (eager, 3 windows of 256 tokens).
--chosen (same reader): qa's own answers (8.5% refused), the short answer read inside the sentence qa cites: EM 0.338,
F1 0.433 — against F1 0.395 for qa's span model cross-validated (bench/answers.py --span-cv, all 4,306); the
shipped span model scores 0.513 here, but it was trained on these very questions.
--lora 16 --lr 1e-3 (all 6 layers frozen, rank-16 updates of every linear map: 664,322 parameters, 1.3 MB in fp16),
2 epochs, 13 min: F1 0.499 / 0.571 (EM 0.454) — all layers trained: 0.548 / 0.579.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gate import paragraph_spans
from qa.embed import DEFAULT_MODEL, model_path
from qa.evaluate import exact_match, f1

ROOT = Path(__file__).resolve().parent.parent
SQUAD = ROOT / "eval" / "squad-dev16"


def paragraphs(text: str) -> list[str]:
    return [text[s:e].strip() for s, e in paragraph_spans(text)]


def load(fold: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    articles = sorted(p.name for p in (SQUAD / "articles").glob("*.txt"))
    paras = {a: paragraphs((SQUAD / "articles" / a).read_text(encoding="utf-8")) for a in articles}
    train, test = [], []
    for line in (SQUAD / "questions.jsonl").read_text().splitlines():
        q = json.loads(line)
        a = q["source_articles"][0]
        i = q.get("paragraph_index")
        if i is None or i >= len(paras[a]):
            continue
        context = paras[a][i]
        start = next((context.find(x) for x in q["answers"] if x in context), -1)
        if start < 0:
            continue
        answer = next(x for x in q["answers"] if x in context)
        row = {**q, "context": context, "start": start, "end": start + len(answer)}
        (test if articles.index(a) % 2 == fold else train).append(row)
    return train, test


def encode(tok: Any, rows: list[dict[str, Any]], max_len: int) -> dict[str, Any]:
    enc = tok(
        [r["question"] for r in rows],
        [r["context"] for r in rows],
        truncation="only_second",
        max_length=max_len,
        stride=64,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length",
    )
    starts, ends = [], []
    for w, offsets in enumerate(enc["offset_mapping"]):
        r = rows[enc["overflow_to_sample_mapping"][w]]
        seq = enc.sequence_ids(w)
        s = e = 0
        for t, (o, sid) in enumerate(zip(offsets, seq, strict=True)):
            if sid != 1:
                continue
            if o[0] <= r["start"] < o[1] or (o[0] >= r["start"] and s == 0 and o[0] < r["end"]):
                s = s or t
            if o[0] < r["end"] <= o[1] or (o[1] <= r["end"] and o[1] > r["start"]):
                e = t
        if not (s and e >= s):
            s = e = 0
        starts.append(s)
        ends.append(e)
    enc["start_positions"], enc["end_positions"] = starts, ends
    return enc


def run_layers(layers: Any, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BERT layers over `hidden`, padding (mask 0) masked out (the eager attention's additive mask)."""
    ext = (1.0 - mask[:, None, None, :].to(hidden.dtype)) * -1e4
    for layer in layers:
        out = layer(hidden, attention_mask=ext)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


class LoRALinear(torch.nn.Module):
    """A frozen linear layer plus a trained low-rank update: what would ship is A and B, not the layer."""

    def __init__(self, base: torch.nn.Linear, rank: int) -> None:
        super().__init__()
        self.base = base.requires_grad_(False)
        self.a = torch.nn.Parameter(torch.randn(rank, base.in_features) * 0.01)
        self.b = torch.nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale


def add_lora(layers: torch.nn.ModuleList, rank: int) -> None:
    for layer in layers:
        layer.requires_grad_(False)
        targets = [
            (parent, name, child)
            for parent in layer.modules()
            for name, child in parent.named_children()
            if isinstance(child, torch.nn.Linear)
        ]
        for parent, name, child in targets:  # listed first: a wrapper holds a Linear too
            setattr(parent, name, LoRALinear(child, rank))


class Top(torch.nn.Module):
    def __init__(self, base: Any, top: int) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList(base.encoder.layer[len(base.encoder.layer) - top :])
        self.head = torch.nn.Linear(base.config.hidden_size, 2)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(run_layers(self.layers, hidden, mask))
        return logits[..., 0].masked_fill(mask == 0, -1e4), logits[..., 1].masked_fill(mask == 0, -1e4)


@torch.no_grad()
def lower(base: Any, enc: dict[str, Any], keep: int, batch: int = 64) -> torch.Tensor:
    ids = torch.tensor(enc["input_ids"])
    types = torch.tensor(enc["token_type_ids"])
    mask = torch.tensor(enc["attention_mask"])
    out = []
    for i in range(0, len(ids), batch):
        h = base.embeddings(input_ids=ids[i : i + batch], token_type_ids=types[i : i + batch])
        out.append(run_layers(base.encoder.layer[:keep], h, mask[i : i + batch]).half())
    return torch.cat(out)


def read(
    model: Top, hidden: torch.Tensor, enc: dict[str, Any], rows: list[dict[str, Any]]
) -> list[tuple[float, str, int]]:
    """Each row's best span: (start logit + end logit, its text, its offset in the row's context)."""
    model.eval()
    mask = torch.tensor(enc["attention_mask"])
    best: dict[int, tuple[float, str, int]] = {}
    with torch.no_grad():
        for i in range(0, len(hidden), 64):
            s, e = model(hidden[i : i + 64].float(), mask[i : i + 64])
            for j in range(len(s)):
                w = i + j
                r = rows[enc["overflow_to_sample_mapping"][w]]
                seq = enc.sequence_ids(w)
                lo, hi = r.get("allowed", (0, len(r["context"])))  # spans only inside [lo, hi) of the context
                offs = enc["offset_mapping"][w]
                ctx = np.array([sid == 1 and lo <= o[0] < hi for sid, o in zip(seq, offs, strict=True)])
                ss = s[j].numpy().copy()
                ee = e[j].numpy().copy()
                ss[~ctx] = -1e9
                ee[~ctx] = -1e9
                score = ss[:, None] + ee[None, :]
                score = np.triu(score) - np.triu(np.full_like(score, 1e9), 30)  # start <= end < start + 30
                a, b = np.unravel_index(int(np.argmax(score)), score.shape)
                text = r["context"][offs[a][0] : offs[b][1]]
                k = enc["overflow_to_sample_mapping"][w]
                if k not in best or score[a, b] > best[k][0]:
                    best[k] = (float(score[a, b]), text, offs[a][0])
    return [best.get(k, (-1e9, "", 0)) for k in range(len(rows))]


def end_to_end(model: Top, base: Any, tok: Any, test: list[dict[str, Any]], args: Any) -> dict[str, Any]:
    """The held-out questions read from the best --retrieved passages qa's retriever finds among all 16 articles
    (as `qa ask` would): the best span over them; EM/F1, and whether the sentence holding it holds a gold answer
    (sentence accuracy; --max-len does not apply: passages are read in windows of 256 tokens)."""
    import tempfile

    from qa.build import build
    from qa.chunk import sentence_spans
    from qa.config import Settings
    from qa.embed import load_embedder
    from qa.evaluate import contains_answer
    from qa.retrieve import Retriever
    from qa.store import Index

    embedder = load_embedder()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index=Path(tmp) / "index", articles=SQUAD / "articles")
        build(settings, embedder=embedder)
        index = Index.load(settings.index)
        retriever = Retriever(index, embedder, settings)
        rows = []
        for n, q in enumerate(test):
            for p in retriever.search(q["question"], args.retrieved).passages:
                rows.append({"question": q["question"], "context": p.chunk.text, "q": n, "chunk": p.chunk})
    t0 = time.perf_counter()
    enc = encode(tok, [{**r, "start": -1, "end": -1} for r in rows], 256)  # a passage in one window, mostly
    keep = len(base.encoder.layer) - args.top
    got = read(model, lower(base, enc, keep), enc, rows)
    seconds = time.perf_counter() - t0
    best: dict[int, tuple[float, str, int, Any]] = {}
    for r, (score, text, at) in zip(rows, got, strict=True):
        if r["q"] not in best or score > best[r["q"]][0]:
            best[r["q"]] = (score, text, at, r["chunk"])
    em, f, sent = [], [], []
    for n, q in enumerate(test):
        _, text, at, chunk = best[n]
        em.append(exact_match(text, q["answers"]))
        f.append(f1(text, q["answers"]))
        article = index.articles[chunk.article].text
        pos = chunk.start + at
        holding = [(a, b) for a, b in sentence_spans(article, chunk.start, chunk.end) if a <= pos < b]
        sent.append(bool(holding) and contains_answer(article[holding[0][0] : holding[0][1]], q["answers"]))
    return {
        "passages": args.retrieved,
        "questions": len(test),
        "em": float(np.mean(em)),
        "f1": float(np.mean(f)),
        "sentence_accuracy": float(np.mean(sent)),
        "read_ms_per_question": 1000 * seconds / len(test),
    }


def in_chosen_sentence(model: Top, base: Any, tok: Any, test: list[dict[str, Any]], args: Any) -> dict[str, Any]:
    """qa's own answer to each held-out question (index of all 16 articles, the shipped gate and sentence choice),
    with the short answer read by the probe reader inside the sentence qa cites (its passage read as context):
    EM/F1 as bench/answers.py scores them (a refusal scores 0), beside qa's own short answers."""
    import tempfile

    from bench.answers import answerer_for

    with tempfile.TemporaryDirectory() as tmp:
        answerer = answerer_for(SQUAD / "articles", Path(tmp))
        answers = [answerer.ask(q["question"], 5) for q in test]
    rows, which = [], []
    for n, ans in enumerate(answers):
        if ans.refused or not ans.citations:
            continue
        c = ans.citations[0]
        chunk = next(
            (p.chunk for p in ans.passages if p.chunk.article == c.article and p.chunk.start <= c.start < p.chunk.end),
            None,
        )
        if chunk is None:
            continue
        allowed = (c.start - chunk.start, min(c.end, chunk.end) - chunk.start)
        row = {"question": test[n]["question"], "context": chunk.text, "allowed": allowed, "start": -1, "end": -1}
        rows.append(row)
        which.append(n)
    enc = encode(tok, rows, 256)
    got = read(model, lower(base, enc, len(base.encoder.layer) - args.top), enc, rows)
    reader = {n: text for n, (_, text, _) in zip(which, got, strict=True)}
    out: dict[str, Any] = {"questions": len(test), "refused": float(np.mean([a.refused for a in answers]))}
    for name, pick in (
        ("qa_short", lambda n: answers[n].short if answers[n].short is not None else answers[n].text),
        ("reader_short", lambda n: reader.get(n, "")),
    ):
        got_n = [("" if answers[n].refused else pick(n)) for n in range(len(test))]
        out[name] = {
            "em": float(np.mean([exact_match(g, q["answers"]) for g, q in zip(got_n, test, strict=True)])),
            "f1": float(np.mean([f1(g, q["answers"]) for g, q in zip(got_n, test, strict=True)])),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--top", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-len", type=int, default=192)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument(
        "--retrieved", type=int, default=0, help="then read the best N passages qa retrieves instead (see below)"
    )
    ap.add_argument("--chosen", action="store_true", help="then the short answer inside qa's answer (see below)")
    ap.add_argument("--limit", type=int, default=0, help="read only the first N held-out questions")
    ap.add_argument("--lora", type=int, default=0, help="train rank-N updates of the top layers, not the layers")
    args = ap.parse_args()
    torch.manual_seed(0)
    t0 = time.perf_counter()
    path = model_path(DEFAULT_MODEL)
    tok = AutoTokenizer.from_pretrained(path)
    base = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    keep = len(base.encoder.layer) - args.top
    train, test = load(args.fold)
    test = test[: args.limit] if args.limit else test
    enc_tr, enc_te = encode(tok, train, args.max_len), encode(tok, test, args.max_len)
    h_tr, h_te = lower(base, enc_tr, keep), lower(base, enc_te, keep)
    print(f"{len(train)} train / {len(test)} test questions, {len(h_tr)} / {len(h_te)} windows, "
          f"lower layers cached in {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    model = Top(base, args.top)
    if args.lora:
        add_lora(model.layers, args.lora)
    params = [p for p in model.parameters() if p.requires_grad]
    results_size = sum(p.numel() for p in params)
    print(f"{results_size:,} parameters trained", flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    mask = torch.tensor(enc_tr["attention_mask"])
    sp = torch.tensor(enc_tr["start_positions"])
    ep = torch.tensor(enc_tr["end_positions"])
    steps = args.epochs * ((len(h_tr) + 15) // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1 - i / max(steps, 1)))
    results: dict[str, Any] = {"args": vars(args), "trained_parameters": results_size, "epochs": []}
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(h_tr))
        total = 0.0
        for i in range(0, len(order), 16):
            b = order[i : i + 16]
            s, e = model(h_tr[b].float(), mask[b])
            loss = (torch.nn.functional.cross_entropy(s, sp[b]) + torch.nn.functional.cross_entropy(e, ep[b])) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        got = [text for _, text, _ in read(model, h_te, enc_te, test)]
        em = float(np.mean([exact_match(g, r["answers"]) for g, r in zip(got, test, strict=True)]))
        f = float(np.mean([f1(g, r["answers"]) for g, r in zip(got, test, strict=True)]))
        row = {"epoch": epoch + 1, "loss": total / len(order), "em": em, "f1": f, "s": time.perf_counter() - t0}
        results["epochs"].append(row)
        print(json.dumps(row), flush=True)
    if args.chosen:
        results["chosen"] = in_chosen_sentence(model, base, tok, test, args)
        print(json.dumps(results["chosen"]), flush=True)
    if args.retrieved:
        results["retrieved"] = end_to_end(model, base, tok, test, args)
        print(json.dumps(results["retrieved"]), flush=True)
    name = f"top{args.top}{f'_lora{args.lora}' if args.lora else ''}{'_limit' if args.limit else ''}"
    out = ROOT / f"bench/results/reader_probe_{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
