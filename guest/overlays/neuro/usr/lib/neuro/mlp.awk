# A multilayer perceptron in awk: I inputs, one hidden layer of H sigmoid
# units, one sigmoid output (binary classification), trained by stochastic
# gradient descent with backpropagation on the cross-entropy loss.
#
#   awk -v mode=train -v hidden=H -v epochs=E -v rate=R -v seed=S -f mlp.awk DATA > MODEL
#       DATA: lines "x1,x2,...,xI,y" with y in {0,1}; MODEL: text (below)
#   awk -v mode=predict -v x="x1,...,xI" -f mlp.awk MODEL
#       prints "output class"
#
# MODEL format: "mlp I H", H lines "w_1 .. w_I bias" (hidden units), one line
# "v_1 .. v_H bias" (output unit), "loss L", "accuracy A", "epochs E".
# Debian's busybox awk has no math library (no exp, log, sqrt): those below
# are computed with range reduction and series, to ~1e-15 relative error.
function EXP(z,    k, t, s, i) {
    k = int(z / 0.6931471805599453); if (z < 0 && k * 0.6931471805599453 != z) k--
    z -= k * 0.6931471805599453                         # 0 <= z < ln 2
    t = 1; s = 1
    for (i = 1; i <= 18; i++) { t *= z / i; s += t }
    for (; k > 0; k--) s *= 2
    for (; k < 0; k++) s /= 2
    return s
}
function LOG(x,    k, y, y2, t, s, i) {
    k = 0
    while (x >= 2) { x /= 2; k++ }
    while (x < 1) { x *= 2; k-- }
    y = (x - 1) / (x + 1); y2 = y * y; t = y; s = 0   # ln x = 2 atanh y
    for (i = 1; i <= 39; i += 2) { s += t / i; t *= y2 }
    return 2 * s + k * 0.6931471805599453
}
function SQRT(x,    r, i) { if (x <= 0) return 0; r = x > 1 ? x : 1; for (i = 0; i < 60; i++) r = (r + x / r) / 2; return r }
function sig(z) { return z < -40 ? 0 : (z > 40 ? 1 : 1 / (1 + EXP(-z))) }
function forward(xs,    j, k, z) {
    for (j = 1; j <= H; j++) {
        z = W[j, I + 1]
        for (k = 1; k <= I; k++) z += W[j, k] * xs[k]
        h[j] = sig(z)
    }
    z = V[H + 1]
    for (j = 1; j <= H; j++) z += V[j] * h[j]
    return sig(z)
}
function evaluate(    s, o, loss, ok, k) {
    loss = 0; ok = 0
    for (s = 1; s <= N; s++) {
        for (k = 1; k <= I; k++) xs[k] = X[s, k]
        o = forward(xs)
        loss -= Y[s] ? LOG(o + 1e-12) : LOG(1 - o + 1e-12)
        ok += ((o >= 0.5) == (Y[s] == 1))
    }
    L = loss / N; ACC = ok / N
}
mode == "train" {
    sub(/\r$/, ""); if ($0 ~ /^[ \t]*(#|$)/) next
    n = split($0, f, ",")
    if (n < 2) { print "bad data line " NR > "/dev/stderr"; bad = 1; exit 1 }
    if (!I) I = n - 1
    if (n - 1 != I) { print "line " NR ": expected " I + 1 " values" > "/dev/stderr"; bad = 1; exit 1 }
    N++
    for (k = 1; k <= I; k++) X[N, k] = f[k] + 0
    Y[N] = (f[n] + 0 >= 0.5) ? 1 : 0
    next
}
mode == "predict" && FNR == 1 { I = $2; H = $3; next }
mode == "predict" && FNR <= H + 1 { for (k = 1; k <= I + 1; k++) W[FNR - 1, k] = $k; next }
mode == "predict" && FNR == H + 2 { for (k = 1; k <= H + 1; k++) V[k] = $k; next }
END {
    if (bad) exit 1
    if (mode == "predict") {
        if (split(x, xv, ",") != I) { print "x needs " I " values" > "/dev/stderr"; exit 1 }
        for (k = 1; k <= I; k++) xs[k] = xv[k] + 0
        o = forward(xs)
        printf "%.6f %d\n", o, (o >= 0.5)
        exit 0
    }
    if (N == 0) { print "no training data" > "/dev/stderr"; exit 1 }
    H = hidden + 0; if (H < 1) H = 4
    srand(seed + 0)
    # Xavier-like initialisation
    for (j = 1; j <= H; j++) for (k = 1; k <= I + 1; k++) W[j, k] = (rand() * 2 - 1) * SQRT(6 / (I + H))
    for (j = 1; j <= H + 1; j++) V[j] = (rand() * 2 - 1) * SQRT(6 / (H + 1))
    evaluate(); L0 = L
    for (e = 1; e <= epochs; e++) {
        for (s = 1; s <= N; s++) {
            for (k = 1; k <= I; k++) xs[k] = X[s, k]
            o = forward(xs)
            d = o - Y[s]                      # dLoss/dz at the output (cross-entropy + sigmoid)
            for (j = 1; j <= H; j++) {
                g = d * V[j] * h[j] * (1 - h[j])
                V[j] -= rate * d * h[j]
                for (k = 1; k <= I; k++) W[j, k] -= rate * g * xs[k]
                W[j, I + 1] -= rate * g
            }
            V[H + 1] -= rate * d
        }
    }
    evaluate()
    printf "mlp %d %d\n", I, H
    for (j = 1; j <= H; j++) { for (k = 1; k <= I + 1; k++) printf "%s%.12g", (k > 1 ? " " : ""), W[j, k]; print "" }
    for (j = 1; j <= H + 1; j++) printf "%s%.12g", (j > 1 ? " " : ""), V[j]; print ""
    printf "loss %.6g\ninitial_loss %.6g\naccuracy %.4f\nepochs %d\nsamples %d\n", L, L0, ACC, epochs, N
}
