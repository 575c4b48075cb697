#!/usr/bin/env python3
"""Standalone PyTorch re-implementation of the reference SPoSE training loop, for benchmarking.

Mirrors ViCCo-Group/SPoSE (Zheng, Hebart et al. 2019; the lab's PyTorch code, Lukas Muttenthaler)
for the deterministic model, odd-one-out task, dot-product similarity, normal sampling:
  train.py        run()                              -> train() below
  models/model.py SPoSE, l1_regularization           -> SPoSE, l1_regularization
  utils.py        load_data, get_nitems, BatchGenerator, encode_as_onehot, compute_similarities,
                  softmax, cross_entropy_loss, trinomial_loss, accuracy_, choice_accuracy,
                  validation, get_nneg_dims, remove_zeros, save_weights_
With the same --seed and torch version the run draws the same init and per-epoch permutations as
the reference. Research notes and every deviation: bench/spose_reference.md.

Triplets: N x 3 ints, SPoSE convention (columns 0, 1 = the kept pair, column 2 = the odd one out),
0-based, .npy or text. Run, e.g.:
  python bench/spose_reference.py --triplets-dir DIR --lmbda 0.008 --threads 2 --out OUT
  python bench/spose_reference.py --train train_90.npy --test test_10.npy --max-seconds 30
"""
import argparse
import json
import math
import os
import random
import re
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- data (utils.py) -------------
def load_triplets(path):
    """utils.load_data: .npy, else text via np.loadtxt; cast to int64 (torch.LongTensor)."""
    a = np.load(path) if path.endswith('.npy') else np.loadtxt(path)
    return torch.from_numpy(np.asarray(a)).type(torch.LongTensor).reshape(-1, 3)


def get_nitems(train_triplets):
    """utils.get_nitems: max index, + 1 only when index 0 occurs in the *train* split."""
    n_items = torch.max(train_triplets).item()
    if torch.min(train_triplets).item() == 0:
        n_items += 1
    return n_items


def encode_as_onehot(I, triplets):
    """utils.encode_as_onehot: rows of the identity -> (3B, n_items) dense one-hot batch."""
    return I[triplets.flatten(), :]


class BatchGenerator:
    """utils.BatchGenerator ('normal' sampling): a fresh torch.randperm of the whole set on every
    iteration (= every epoch) when shuffle, none for validation; len // batch_size batches, so
    the incomplete last batch is dropped (train *and* test)."""

    def __init__(self, I, dataset, batch_size, shuffle, onehot=True):
        self.I, self.dataset, self.batch_size = I, dataset, batch_size
        self.shuffle, self.onehot = shuffle, onehot
        self.n_batches = len(dataset) // batch_size

    def __len__(self):
        return self.n_batches

    def __iter__(self):
        triplets = self.dataset[torch.randperm(len(self.dataset))] if self.shuffle else self.dataset
        for i in range(self.n_batches):
            rows = triplets[i * self.batch_size:(i + 1) * self.batch_size]
            # --gather (not the reference): pass the flat item ids instead of one-hot rows
            yield encode_as_onehot(self.I, rows) if self.onehot else rows.flatten()


# ---------------------------------------------------------------- model (models/model.py) -----
class SPoSE(nn.Module):
    """models/model.SPoSE: bias-free nn.Linear(n_items -> embed_dim) on one-hot rows; weight
    (embed_dim x n_items) re-initialised N(0.1, 0.01) after nn.Linear's own init (which still
    consumes the RNG, so the stream matches the reference)."""

    def __init__(self, in_size, out_size, gather=False):
        super().__init__()
        self.fc = nn.Linear(in_size, out_size, bias=False)
        self.gather = gather
        self.fc.weight.data.normal_(.1, .01)

    def forward(self, x):
        # --gather: the same rows of W^T by indexing (identical values, no dense matmul)
        return self.fc.weight.t()[x] if self.gather else self.fc(x)


def l1_regularization(model):
    """models/model.l1_regularization: sum of |w| over every parameter named *weight* (= all W)."""
    l1_reg = torch.tensor(0., requires_grad=True)
    for n, p in model.named_parameters():
        if re.search(r'weight', n):
            l1_reg = l1_reg + torch.norm(p, 1)
    return l1_reg


# ---------------------------------------------------------------- loss (utils.py) -------------
def compute_similarities(anchor, positive, negative):
    """utils.compute_similarities (dot, odd_one_out): (s01, s02, s12); s01 is the kept pair."""
    return (torch.sum(anchor * positive, dim=1), torch.sum(anchor * negative, dim=1),
            torch.sum(positive * negative, dim=1))


def softmax(sims, t):
    """utils.softmax: exp(s01/t) / sum exp(s/t), literally (no max subtraction)."""
    return torch.exp(sims[0] / t) / torch.sum(torch.stack([torch.exp(s / t) for s in sims]), dim=0)


def trinomial_loss(anchor, positive, negative, t):
    """utils.trinomial_loss -> cross_entropy_loss: mean over the batch of -log p(kept pair)."""
    return torch.mean(-torch.log(softmax(compute_similarities(anchor, positive, negative), t)))


def choice_accuracy(anchor, positive, negative):
    """utils.choice_accuracy + accuracy_: softmax of the three similarities (t = 1); a row whose
    three probabilities are all equal counts as wrong (choice -1); otherwise np.argmax, whose
    first-index rule means a partial tie involving the kept pair counts as right."""
    sims = compute_similarities(anchor, positive, negative)
    probas = F.softmax(torch.stack(sims, dim=-1), dim=1).detach().cpu().numpy()
    choices = np.where(probas.mean(axis=1) == probas.max(axis=1), -1, np.argmax(probas, axis=1))
    return np.where(choices == 0, 1, 0).mean()


def split_logits(logits, embed_dim):
    return torch.unbind(torch.reshape(logits, (-1, 3, embed_dim)), dim=1)


def validation(model, val_batches, device, embed_dim):
    """utils.validation: mean over test batches of (batch-mean CE at t = 1, batch accuracy)."""
    t = torch.tensor(1.).to(device)
    model.eval()
    with torch.no_grad():
        losses = torch.zeros(len(val_batches))
        accs = torch.zeros(len(val_batches))
        for j, batch in enumerate(val_batches):
            a, p, n = split_logits(model(batch.to(device)), embed_dim)
            losses[j] += trinomial_loss(a, p, n, t).item()
            accs[j] += choice_accuracy(a, p, n)
    return torch.mean(losses).item(), torch.mean(accs).item()


# ---------------------------------------------------------------- early stopping --------------
def linregress_slope_p(y):
    """scipy.stats.linregress(range(n), y) -> (slope, two-sided p of the slope's t-test), the
    same formulas as scipy; scipy itself is used when installed."""
    try:
        from scipy.stats import linregress
        r = linregress(range(len(y)), y)
        return r.slope, r.pvalue
    except ImportError:
        pass
    x, y = np.arange(len(y), dtype=float), np.asarray(y, dtype=float)
    ssxm = np.mean((x - x.mean()) ** 2)
    ssym = np.mean((y - y.mean()) ** 2)
    ssxym = np.mean((x - x.mean()) * (y - y.mean()))
    slope = ssxym / ssxm
    r = 0.0 if ssym == 0 else max(-1.0, min(1.0, ssxym / math.sqrt(ssxm * ssym)))
    df = len(y) - 2
    if df <= 0:  # scipy: two points fit exactly, p = 0
        return slope, 0.0
    t = r * math.sqrt(df / ((1.0 - r) * (1.0 + r) + 1e-20))
    return slope, betainc_reg(df / 2.0, 0.5, df / (df + t * t))  # = 2 * t.sf(|t|, df)


def betainc_reg(a, b, x):
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes betacf)."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - betainc_reg(b, a, 1.0 - x)
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log(1.0 - x)) / a
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
    f = d
    for m in range(1, 300):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1.0 + num / c
            c = c if abs(c) > 1e-300 else 1e-300
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f


# ---------------------------------------------------------------- pruning (utils.py) ----------
def get_nneg_dims(W, eps=0.1):
    """utils.get_nneg_dims: dimensions (rows of W) whose largest weight exceeds 0.1."""
    w_max = W.max(dim=1)[0]
    return len(w_max[w_max > eps])


def save_weights_(W):
    """utils.save_weights_ (remove_zeros + sort): keep rows with max > 0.1, order them by L1 norm
    (descending), take |.|, transpose -> (n_items, kept dims)."""
    W = W.detach().cpu().numpy()
    W = W[np.where(np.max(W, axis=1) > .1)]
    return np.abs(W[np.argsort(-np.linalg.norm(W, ord=1, axis=1))]).T


# ---------------------------------------------------------------- training (train.py run) -----
def train(args, train_triplets, test_triplets, n_items, device):
    I = torch.eye(n_items)
    onehot = not args.gather
    train_batches = BatchGenerator(I, train_triplets, args.batch_size, True, onehot)
    val_batches = BatchGenerator(I, test_triplets, args.batch_size, False, onehot)
    temperature = torch.tensor(1.).to(device)
    model = SPoSE(n_items, args.embed_dim, gather=args.gather).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=args.lr)  # betas (0.9, 0.999), eps 1e-8
    lmbda, D = args.lmbda, args.embed_dim
    history, train_losses = [], []
    t_start = time.perf_counter()
    out_of_time = False
    for epoch in range(args.epochs):
        model.train()
        nb = len(train_batches)
        batch_losses, batch_ll = torch.zeros(nb), torch.zeros(nb)
        batch_cl, batch_accs = torch.zeros(nb), torch.zeros(nb)
        t0, c0, done = time.perf_counter(), time.process_time(), 0
        for i, batch in enumerate(train_batches):
            optim.zero_grad()
            anchor, positive, negative = split_logits(model(batch.to(device)), D)
            c_entropy = trinomial_loss(anchor, positive, negative, temperature)
            l1_pen = l1_regularization(model).to(device)
            W = model.fc.weight
            pos_pen = torch.sum(F.relu(-W))            # not divided by batch or n_items
            complexity_loss = (lmbda / n_items) * l1_pen  # not divided by the batch size
            loss = c_entropy + 0.01 * pos_pen + complexity_loss
            loss.backward()
            optim.step()
            batch_losses[i] += loss.item()
            batch_ll[i] += c_entropy.item()
            batch_cl[i] += complexity_loss.item()
            batch_accs[i] += choice_accuracy(anchor, positive, negative)
            done += 1
            if args.max_seconds and time.perf_counter() - t_start > args.max_seconds:
                out_of_time = True
                break
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        # train.py averages over all len(train_batches) slots; a cut epoch averages what ran
        avg = lambda v: torch.mean(v[:done]).item()
        train_losses.append(avg(batch_losses))
        t1 = time.perf_counter()
        val_loss, val_acc = validation(model, val_batches, device, D)
        eval_secs = time.perf_counter() - t1
        rec = dict(epoch=epoch + 1, batches=done, train_loss=train_losses[-1],
                   train_cross_entropy=avg(batch_ll), train_complexity=avg(batch_cl),
                   train_acc=avg(batch_accs), test_acc=val_acc, test_cross_entropy=val_loss,
                   active_dims=get_nneg_dims(model.fc.weight), epoch_seconds=secs, cpu_seconds=cpu,
                   eval_seconds=eval_secs, triplets_per_s=done * args.batch_size / secs)
        history.append(rec)
        print(json.dumps(rec), flush=True)
        if out_of_time:
            break
        # train.py (current master): checked every epoch, only with --early_stopping, first at
        # the (window_size + 1)-th epoch; regression of the last window_size train losses on
        # 0..window_size-1; stop when the slope is positive or not significant (p > 0.1)
        if args.early_stopping and (epoch + 1) > args.window_size:
            slope, pvalue = linregress_slope_p(
                train_losses[(epoch + 1 - args.window_size):(epoch + 2)])
            if slope > 0 or pvalue > .1:
                break
    return model, history, time.perf_counter() - t_start


def full_test_metrics(model, test_triplets, device, D):
    """Extra (not in the reference): accuracy and mean CE over *all* test triplets, last batch
    included, with the same tie rule."""
    with torch.no_grad():
        E = model.fc.weight.t()
        a, p, n = split_logits(E[test_triplets.flatten().to(device)], D)
        t = torch.tensor(1.).to(device)
        return choice_accuracy(a, p, n), trinomial_loss(a, p, n, t).item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--train', help='train triplets (.npy or text)')
    ap.add_argument('--test', help='test triplets (.npy or text)')
    ap.add_argument('--triplets-dir', help='instead of --train/--test: DIR/train_90.npy and '
                    'DIR/test_10.npy, else DIR/train_90.txt and DIR/test_10.txt (utils.load_data)')
    ap.add_argument('--n-items', type=int, help='default: utils.get_nitems on the train split')
    ap.add_argument('--lmbda', type=float, default=0.008, help='L1 weight, divided by n_items')
    ap.add_argument('--embed-dim', type=int, default=90)
    ap.add_argument('--lr', type=float, default=0.001)
    ap.add_argument('--batch-size', type=int, default=100)
    ap.add_argument('--epochs', type=int, default=500)
    ap.add_argument('--window-size', type=int, default=50)
    ap.add_argument('--early-stopping', action='store_true',
                    help='the reference convergence test (opt-in there too)')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--threads', type=int, help='torch.set_num_threads')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--max-seconds', type=float, help='stop training after this wall time')
    ap.add_argument('--gather', action='store_true',
                    help='NOT the reference: index rows of W instead of one-hot @ W^T')
    ap.add_argument('--out', help='directory for weights_sorted.npy, W.npy and results.json')
    args = ap.parse_args()

    # train.py __main__: seed numpy, random and torch before anything else
    np.random.seed(args.seed)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    if args.triplets_dir:
        d = args.triplets_dir
        ext = '.npy' if os.path.exists(os.path.join(d, 'train_90.npy')) else '.txt'
        args.train, args.test = os.path.join(d, 'train_90' + ext), os.path.join(d, 'test_10' + ext)
    train_triplets, test_triplets = load_triplets(args.train), load_triplets(args.test)
    n_items = args.n_items or get_nitems(train_triplets)

    model, history, total = train(args, train_triplets, test_triplets, n_items, device)
    W_sorted = save_weights_(model.fc.weight)
    acc_all, ce_all = full_test_metrics(model, test_triplets, device, args.embed_dim)
    n_trained = sum(h['batches'] for h in history) * args.batch_size
    train_secs = sum(h['epoch_seconds'] for h in history)
    cpu_secs = sum(h['cpu_seconds'] for h in history)
    summary = dict(
        n_items=n_items, n_train=len(train_triplets), n_test=len(test_triplets),
        epochs_run=len(history), kept_dims=int(W_sorted.shape[1]),
        test_acc=history[-1]['test_acc'], test_cross_entropy=history[-1]['test_cross_entropy'],
        test_acc_all=float(acc_all), test_cross_entropy_all=ce_all,
        triplets_trained=n_trained, train_seconds=train_secs,
        triplets_per_s=n_trained / train_secs, cpu_seconds=cpu_secs,
        triplets_per_cpu_s=n_trained / cpu_secs, wall_seconds=total,
        threads=torch.get_num_threads(), torch=torch.__version__,
        args={k: v for k, v in vars(args).items()}, history=history)
    print(json.dumps({k: v for k, v in summary.items() if k not in ('history', 'args')}))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        np.save(os.path.join(args.out, 'weights_sorted.npy'), W_sorted)
        np.save(os.path.join(args.out, 'W.npy'), model.fc.weight.detach().cpu().numpy())
        with open(os.path.join(args.out, 'results.json'), 'w') as f:
            json.dump(summary, f, indent=1)


if __name__ == '__main__':
    main()
