# Compute kernels; each worker handles indices lo..hi of 1..n and prints one
# partial result.
#   pi:      midpoint rule for the integral of 4/(1+x^2) over [0,1] with n
#            intervals; prints the partial sum (the total is divided by n)
#   primes:  number of primes in lo..hi (trial division by odd numbers)
#   sumsq:   sum of i^2 for i in lo..hi (exact check: n(n+1)(2n+1)/6)
BEGIN {
    s = 0
    if (kind == "pi") {
        h = 1 / n
        for (i = lo; i <= hi; i++) { x = (i - 0.5) * h; s += 4 / (1 + x * x) }
        printf "%.17g\n", s
    } else if (kind == "primes") {
        for (k = lo; k <= hi; k++) {
            if (k < 2) continue
            if (k < 4) { s++; continue }
            if (k % 2 == 0) continue
            p = 1
            for (d = 3; d * d <= k; d += 2) if (k % d == 0) { p = 0; break }
            s += p
        }
        print s
    } else if (kind == "sumsq") {
        for (i = lo; i <= hi; i++) s += i * i
        printf "%.0f\n", s
    } else {
        print "unknown kind " kind > "/dev/stderr"
        exit 1
    }
}
