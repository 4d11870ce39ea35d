# Sample data warehouse: a star schema of a fictional retail chain's 2025
# sales, generated deterministically (fixed seed), printed as SQL for sqlite3.
#   stores(store_id, city, region)  products(product_id, name, category, unit_price)
#   sales(sale_id, day, store_id, product_id, qty, amount)   20000 rows
#   view monthly_revenue(month, region, category, revenue, units)
BEGIN {
    srand(42)
    print "BEGIN;"
    print "CREATE TABLE stores (store_id INTEGER PRIMARY KEY, city TEXT NOT NULL, region TEXT NOT NULL);"
    ns = split("Aberdeen:north Leeds:north York:north Bristol:south Brighton:south Norwich:east Cambridge:east Cardiff:west Plymouth:west Exeter:west", st, " ")
    for (i = 1; i <= ns; i++) {
        split(st[i], f, ":")
        printf "INSERT INTO stores VALUES (%d, '%s', '%s');\n", i, f[1], f[2]
    }
    print "CREATE TABLE products (product_id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, unit_price REAL NOT NULL);"
    np = split("Kettle:kitchen:24.99 Toaster:kitchen:19.99 Blender:kitchen:49.50 Desk_lamp:home:15.00 Cushion:home:9.99 Rug:home:79.00 Notebook:office:3.49 Pen_set:office:6.99 Stapler:office:8.25 Headphones:electronics:59.00 Charger:electronics:14.99 Speaker:electronics:89.90", pr, " ")
    for (i = 1; i <= np; i++) {
        split(pr[i], f, ":"); gsub(/_/, " ", f[1])
        price[i] = f[3]
        printf "INSERT INTO products VALUES (%d, '%s', '%s', %s);\n", i, f[1], f[2], f[3]
    }
    print "CREATE TABLE sales (sale_id INTEGER PRIMARY KEY, day TEXT NOT NULL, store_id INTEGER NOT NULL REFERENCES stores, product_id INTEGER NOT NULL REFERENCES products, qty INTEGER NOT NULL, amount REAL NOT NULL);"
    split("31 28 31 30 31 30 31 31 30 31 30 31", mdays, " ")
    n = 20000
    for (i = 1; i <= n; i++) {
        if (i % 500 == 1) printf "INSERT INTO sales VALUES "
        m = int(rand() * 12) + 1; d = int(rand() * mdays[m]) + 1
        s = int(rand() * ns) + 1
        p = int(rand() * np) + 1
        q = int(rand() * rand() * 6) + 1
        printf "(%d,'2025-%02d-%02d',%d,%d,%d,%.2f)%s", i, m, d, s, p, q, q * price[p], (i % 500 == 0 || i == n) ? ";\n" : ","
    }
    print "CREATE INDEX sales_day ON sales(day);"
    print "CREATE INDEX sales_store ON sales(store_id);"
    print "CREATE VIEW monthly_revenue AS SELECT substr(day, 1, 7) AS month, region, category, round(sum(amount), 2) AS revenue, sum(qty) AS units FROM sales JOIN stores USING (store_id) JOIN products USING (product_id) GROUP BY month, region, category;"
    print "COMMIT;"
}
