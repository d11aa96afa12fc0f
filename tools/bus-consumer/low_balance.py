#!/usr/bin/env python3
"""A consumer outside the bank: reads the account events GrpcBank publishes to RabbitMQ as CloudEvents and prints a
notice when an account's balance falls below a threshold.

It shows what every bus consumer needs (README, "Event bus"):
  * its own durable queue, bound to the routing keys it wants (`accounts.#`), so nothing is lost while it is away;
  * manual acks, sent only after the message's effect is recorded;
  * deduplication by the CloudEvents `id`: delivery is at-least-once, so the same event may come twice. The ids seen
    and the effects (balances here) are kept in one SQLite transaction, so a crash between the two cannot apply an
    event twice or lose one: exactly-once effects from at-least-once delivery.

Runs on Debian's python3-pika:  /usr/bin/python3 tools/bus-consumer/low_balance.py --url amqp://guest:guest@127.0.0.1:5672/
"""
import argparse
import json
import sqlite3
import sys

import pika

# Storage name (without its version) -> how the event moves the balance. Other account events move no money (a hold
# only sets money aside; its capture, which pays an order, is what takes it).
CREDITS = {"accounts.MoneyDeposited", "accounts.PaymentCredited", "accounts.RefundCredited"}
DEBITS = {"accounts.MoneyWithdrawn", "accounts.PaymentDebited", "accounts.RefundDebited", "accounts.HoldCaptured"}


def amount_of(data):
    """Minor units moved: top level on deposits and withdrawals, under `movement` on payment and refund steps,
    `capturedMinor` on a hold's capture (the rest of the hold, `releasedMinor`, never left the account)."""
    if "movement" in data:
        return int(data["movement"]["amountMinor"])
    return int(data["capturedMinor"] if "capturedMinor" in data else data["amountMinor"])


def open_state(path):
    db = sqlite3.connect(path)
    db.executescript(
        "create table if not exists seen (id text primary key);"
        "create table if not exists balances (account text primary key, minor integer not null, version integer not null);"
    )
    return db


def handle(db, event, threshold):
    """Applies one CloudEvent once: returns (False, None) for a repeat (same id: nothing changes), else (True, the
    notice to print or None)."""
    with db:  # one transaction: the id and the effect are recorded together, or neither is
        if db.execute("insert or ignore into seen (id) values (?)", (event["id"],)).rowcount == 0:
            return False, None
        kind = event["type"].rsplit(".", 1)[0]  # accounts.MoneyWithdrawn.v1 -> accounts.MoneyWithdrawn
        if kind not in CREDITS and kind not in DEBITS:
            return True, None
        account = event["subject"].removeprefix("account-")
        amount = amount_of(event["data"]) * (1 if kind in CREDITS else -1)
        row = db.execute("select minor from balances where account = ?", (account,)).fetchone()
        before = row[0] if row else 0
        after = before + amount
        db.execute(
            "insert into balances (account, minor, version) values (?, ?, ?) "
            "on conflict (account) do update set minor = excluded.minor, version = excluded.version",
            (account, after, int(event["streamversion"])),
        )
        if after < threshold <= before or (row is None and after < threshold):
            currency = event["data"].get("currencyCode") or event["data"].get("movement", {}).get("currencyCode", "")
            return True, (f"LOW BALANCE {account}: {after / 100:.2f} {currency} after {event['type']} "
                          f"(position {event['position']}, trace {event.get('traceparent', '-')})")
        return True, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/", help="the broker (amqp://user:password@host:port/vhost)")
    parser.add_argument("--exchange", default="grpcbank.events", help="the bank's exchange (Bus:RabbitMq:Exchange)")
    parser.add_argument("--queue", default="grpcbank.low-balance", help="this consumer's own durable queue")
    parser.add_argument("--threshold", type=int, default=1000, help="notice below this balance, in minor units (default 1000 = 10.00)")
    parser.add_argument("--state", default="low_balance.db", help="SQLite file with the ids seen and the balances")
    parser.add_argument("--idle-exit", type=float, default=0, help="exit after this many seconds without a message (0: run forever)")
    parser.add_argument("--declare-only", action="store_true", help="declare the queue and its binding, then exit")
    args = parser.parse_args()

    db = open_state(args.state)
    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    # Declared as the bank declares it (durable topic), so whichever comes first creates it.
    channel.exchange_declare(args.exchange, exchange_type="topic", durable=True)
    channel.queue_declare(args.queue, durable=True)
    channel.queue_bind(args.queue, args.exchange, routing_key="accounts.#")
    print(f"bound {args.queue} to {args.exchange} with accounts.#", flush=True)
    if args.declare_only:
        connection.close()
        return 0
    channel.basic_qos(prefetch_count=200)

    handled = duplicates = 0
    for method, properties, body in channel.consume(args.queue, inactivity_timeout=args.idle_exit or None):
        if method is None:
            break  # idle for --idle-exit seconds
        event = json.loads(body)  # structured mode: the whole CloudEvent is the body
        applied, notice = handle(db, event, args.threshold)
        if notice:
            print(notice, flush=True)
        handled += 1
        duplicates += not applied
        channel.basic_ack(method.delivery_tag)  # after the effect is committed: a crash before this redelivers
    print(f"handled {handled} messages, {duplicates} duplicates dropped", flush=True)
    connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
