-- cloudlet ecommerce store (SQLite).  Stock can never go negative (CHECK):
-- a checkout that would oversell fails and its transaction is rolled back.
PRAGMA foreign_keys = ON;
BEGIN;
CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    stock INTEGER NOT NULL CHECK (stock >= 0)
);
CREATE TABLE carts (id TEXT PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE cart_items (
    cart TEXT NOT NULL REFERENCES carts(id),
    sku TEXT NOT NULL REFERENCES products(sku),
    qty INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (cart, sku)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cart TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE order_items (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    sku TEXT NOT NULL,
    qty INTEGER NOT NULL,
    price_cents INTEGER NOT NULL
);
INSERT INTO products VALUES
    ('BOOK-001', 'The C Programming Language', 1899, 50),
    ('MUG-002', 'Cloudlet mug', 500, 200),
    ('TEE-003', 'Cloudlet t-shirt, M', 1500, 80),
    ('TEE-004', 'Cloudlet t-shirt, L', 1500, 80),
    ('CABLE-005', 'USB-C cable 1 m', 799, 300),
    ('KEYB-006', 'Mechanical keyboard', 8900, 12),
    ('MOUSE-007', 'Wireless mouse', 2450, 40),
    ('DESK-008', 'Standing desk', 39900, 5),
    ('GPU-009', 'Graphics card', 49900, 3),
    ('STICKER-010', 'Sticker pack', 250, 1000);
COMMIT;
