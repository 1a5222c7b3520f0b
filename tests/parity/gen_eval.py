#!/usr/bin/python3
"""Fixtures for src/eval/: scikit-learn 1.2.1 (and numpy) references for the linear probe,
k-NN, metrics and PCA. Run from the repository root: /usr/bin/python3 tests/parity/gen_eval.py

File format (read by tests/unit/test_eval.c): a text header
    LFFIX 1
    <name> <f4|f8|i8> <ndim> <dim0> ... \n      (one line per array)
    end
followed by the arrays' little-endian data, in header order, C order.
"""
import os
import sys
import warnings

import numpy as np
import sklearn
from scipy.stats import pearsonr
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix,
                             f1_score, roc_auc_score)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

OUT = "tests/parity/fixtures/eval"


def write(path, arrays):
    kinds = {np.dtype("<f4"): "f4", np.dtype("<f8"): "f8", np.dtype("<i8"): "i8"}
    head = "LFFIX 1\n"
    blobs = []
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        code = kinds[a.dtype.newbyteorder("<")]
        head += "%s %s %d %s\n" % (name, code, a.ndim, " ".join(str(s) for s in a.shape))
        blobs.append(a.astype(a.dtype.newbyteorder("<")).tobytes())
    with open(path, "wb") as f:
        f.write((head + "end\n").encode())
        for b in blobs:
            f.write(b)
    print("wrote", path, os.path.getsize(path), "bytes")


def blobs(rng, n, d, k, spread):
    """k Gaussian classes with overlap; features on very different scales and offsets so that
    standardisation matters."""
    means = rng.normal(0, spread, (k, d))
    y = np.arange(n) % k
    rng.shuffle(y)
    x = means[y] + rng.normal(0, 1, (n, d))
    x = x * rng.uniform(0.1, 20, d) + rng.uniform(-50, 50, d)
    return x.astype(np.float32), y.astype(np.int64)


def gen_logreg(rng):
    n, m, d, k = 200, 100, 16, 4
    x, y = blobs(rng, n + m, d, k, 0.35)
    xtr, ytr, xte = x[:n], y[:n], x[n:]
    sc = StandardScaler().fit(xtr.astype(np.float64))
    ztr, zte = sc.transform(xtr.astype(np.float64)), sc.transform(xte.astype(np.float64))
    cs = np.array([0.01, 1.0, 30.0])
    coefs, inters, probas = [], [], []
    for c in cs:
        kw = dict(multi_class="multinomial", penalty="l2", C=c, fit_intercept=True,
                  max_iter=100000, tol=1e-12)
        # scipy's L-BFGS-B stops on its default ftol (2.2e-9 relative change of the loss),
        # which sklearn 1.2 does not expose; warm-started refits continue from the last
        # solution until the coefficients stop moving, so the reference is the optimum.
        lr = LogisticRegression(solver="lbfgs", warm_start=True, **kw)
        prev = None
        for _ in range(50):
            lr.fit(ztr, ytr)
            w = np.hstack([lr.coef_, lr.intercept_[:, None]])
            if prev is not None and np.abs(w - prev).max() < 1e-11:
                break
            prev = w
        nc = LogisticRegression(solver="newton-cg", **kw).fit(ztr, ytr)
        print("C=%g: |lbfgs - newton-cg| coef %.2e  n_iter %s" %
              (c, np.abs(lr.coef_ - nc.coef_).max(), lr.n_iter_))
        coefs.append(lr.coef_)
        inters.append(lr.intercept_)
        probas.append(lr.predict_proba(zte))
    write(OUT + "/logreg.bin", [
        ("x_train", xtr), ("y_train", ytr), ("x_test", xte),
        ("scaler_mean", sc.mean_), ("scaler_scale", sc.scale_), ("C", cs),
        ("coef", np.array(coefs)), ("intercept", np.array(inters)),
        ("proba_test", np.array(probas))])


def gen_knn(rng):
    n, m, d, k = 300, 80, 16, 5
    x, y = blobs(rng, n + m, d, k, 1.0)
    x = (x - x.mean(0)) / x.std(0)  # roughly centred, so cosine similarity is informative
    x = x.astype(np.float32)
    xtr, ytr, xte = x[:n], y[:n], x[n:]
    nk, t = 20, 0.07
    a = xtr.astype(np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = xte.astype(np.float64)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    s = b @ a.T
    top = np.argsort(-s, axis=1, kind="stable")[:, :nk]
    ts = np.take_along_axis(s, top, 1)
    gap = (ts[:, nk - 1] - np.take_along_axis(s, np.argsort(-s, 1)[:, nk:nk + 1], 1)[:, 0]).min()
    print("knn: smallest gap between k-th and (k+1)-th similarity %.2e" % gap)
    w = np.exp(ts / t)
    score = np.zeros((m, k))
    vote = np.zeros((m, k))
    for i in range(m):
        for j in range(nk):
            score[i, ytr[top[i, j]]] += w[i, j]
            vote[i, ytr[top[i, j]]] += 1
    score /= score.sum(1, keepdims=True)
    vote /= vote.sum(1, keepdims=True)
    skl = KNeighborsClassifier(n_neighbors=nk, metric="cosine", algorithm="brute").fit(xtr, ytr)
    pred_major = skl.predict(xte).astype(np.int64)
    assert (np.argmax(vote, 1) == pred_major).all()  # both break ties to the lowest class id
    write(OUT + "/knn.bin", [
        ("x_train", xtr), ("y_train", ytr), ("x_test", xte),
        ("proba_weighted", score), ("proba_majority", vote),
        ("pred_weighted", np.argmax(score, 1).astype(np.int64)), ("pred_majority", pred_major)])


def gen_metrics(rng):
    n, k = 300, 4
    y = rng.integers(0, k, n).astype(np.int64)
    # probability rows drawn from a few prototypes (and their permutations): many exact ties
    protos = np.array([[0.7, 0.1, 0.1, 0.1], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25],
                       [0.5, 0.5, 0.0, 0.0]])
    p = np.empty((n, k))
    for i in range(n):
        row = protos[rng.integers(0, len(protos))].copy()
        if rng.uniform() < 0.6:  # informative: move the largest mass to the true class
            j = np.argmax(row)
            row[[j, y[i]]] = row[[y[i], j]]
        rng.shuffle(row) if rng.uniform() < 0.3 else None
        p[i] = row
    pred = rng.integers(0, k, n).astype(np.int64)
    pred = np.where(rng.uniform(size=n) < 0.55, y, pred)
    pred[pred == 3] = 2  # class 3 is never predicted: its F1 is 0
    yb = rng.integers(0, 2, n).astype(np.int64)
    sb = np.round(rng.uniform(size=n) * 0.6 + 0.4 * yb, 1)  # scores on a 0.1 grid: ties
    u = rng.normal(size=n)
    v = 0.6 * u + rng.normal(size=n)
    ref = np.array([
        accuracy_score(y, pred), balanced_accuracy_score(y, pred),
        f1_score(y, pred, average="macro"),
        roc_auc_score(y, p, multi_class="ovr", average="macro"),
        roc_auc_score(yb, sb), pearsonr(u, v)[0]])
    print("metrics:", ref)
    write(OUT + "/metrics.bin", [
        ("y_true", y), ("y_pred", pred), ("proba", p), ("y_bin", yb), ("score_bin", sb),
        ("u", u), ("v", v), ("ref", ref), ("confusion", confusion_matrix(y, pred).astype(np.int64))])


def gen_pca(rng):
    n, d = 150, 12
    z = rng.normal(size=(n, d)) * np.linspace(4, 0.5, d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = (z @ q.T + rng.normal(size=d) * 3).astype(np.float32)
    xc = x.astype(np.float64) - x.astype(np.float64).mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    write(OUT + "/pca.bin", [("x", x), ("proj", xc @ vt[:2].T)])


def main():
    if not sklearn.__version__.startswith("1.2"):
        sys.exit("expected scikit-learn 1.2.x, found " + sklearn.__version__)
    os.makedirs(OUT, exist_ok=True)
    warnings.filterwarnings("ignore")  # line-search noise from refits that are already converged
    gen_logreg(np.random.default_rng(1234))
    gen_knn(np.random.default_rng(99))
    gen_metrics(np.random.default_rng(7))
    gen_pca(np.random.default_rng(5))


if __name__ == "__main__":
    main()
