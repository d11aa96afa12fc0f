#!/usr/bin/python3
"""A sample GrpcBank client: opens a customer's and a merchant's account, deposits, places an order
(its amount held: AUTHORIZED), fulfils it (paid in one commit), reads the customer's statement, follows
the event feed to the OrderPaid event, transfers money (and is refused a transfer the balance cannot
cover), and sends a batch of commands both independent and atomic. Exit code 0 when everything matched, 1 (with what differed) otherwise.

    /usr/bin/python3 scenario.py [host:port]   (or GRPCBANK_ADDRESS; default 127.0.0.1:5000)
    GRPCBANK_API_KEY=<key>                     sent as 'authorization: Bearer <key>' when set
"""
import os
import sys
import uuid

import grpc

import generate_stubs

sys.path.insert(0, str(generate_stubs.generate()))
from bank.accounts.v1 import account_service_pb2 as accounts_pb, account_service_pb2_grpc as accounts_grpc  # noqa: E402
from bank.batch.v1 import batch_service_pb2 as batch_pb, batch_service_pb2_grpc as batch_grpc  # noqa: E402
from bank.history.v1 import history_service_pb2 as history_pb, history_service_pb2_grpc as history_grpc  # noqa: E402
from bank.orders.v1 import order_service_pb2 as orders_pb, order_service_pb2_grpc as orders_grpc  # noqa: E402
from bank.payments.v1 import payment_service_pb2 as payments_pb, payment_service_pb2_grpc as payments_grpc  # noqa: E402
from bank.query.v1 import query_service_pb2 as query_pb, query_service_pb2_grpc as query_grpc  # noqa: E402

CALL_SECONDS = 10
PAID_WITHIN_SECONDS = 30
CURRENCY = "EUR"
DEPOSIT = 10_000
PRICE = 2_550


class Mismatch(Exception):
    pass


def expect_equal(what, expected, actual):
    if expected != actual:
        raise Mismatch(f"{what}: expected {expected!r}, got {actual!r}")


def money(minor):
    return f"{minor / 100:.2f}"


def run(channel, target, metadata):
    accounts = accounts_grpc.AccountServiceStub(channel)
    orders = orders_grpc.OrderServiceStub(channel)
    query = query_grpc.QueryServiceStub(channel)
    history = history_grpc.HistoryServiceStub(channel)
    payments = payments_grpc.PaymentServiceStub(channel)
    batches = batch_grpc.BatchServiceStub(channel)
    call = {"metadata": metadata, "timeout": CALL_SECONDS}
    run_id = uuid.uuid4().hex[:8]

    # 1. Two accounts and a deposit.
    customer = accounts.OpenAccount(accounts_pb.OpenAccountRequest(
        account_id=f"py-customer-{run_id}", owner_name="Grace Hopper", currency_code=CURRENCY,
        request_id=f"open-customer-{run_id}"), **call)
    merchant = accounts.OpenAccount(accounts_pb.OpenAccountRequest(
        account_id=f"py-merchant-{run_id}", owner_name="Harvard Mark I Supplies", currency_code=CURRENCY,
        request_id=f"open-merchant-{run_id}"), **call)
    deposited = accounts.DepositMoney(accounts_pb.DepositMoneyRequest(
        account_id=customer.account_id, amount_minor=DEPOSIT, currency_code=CURRENCY, reference="salary",
        request_id=f"deposit-{run_id}"), **call)
    expect_equal("balance after the deposit", DEPOSIT, deposited.balance_minor)

    # 2. An order: its amount is held on the customer's account (AUTHORIZED), then fulfilment captures it and
    #    pays the merchant in one commit.
    placed = orders.PlaceOrder(orders_pb.PlaceOrderRequest(
        customer_account_id=customer.account_id, merchant_account_id=merchant.account_id, amount_minor=PRICE,
        currency_code=CURRENCY, description="COBOL reference manual", request_id=f"order-{run_id}"), **call)
    expect_equal("order authorized", True, placed.authorized)
    authorized = query.GetOrder(query_pb.GetOrderRequest(order_id=placed.order_id, min_position=placed.position), **call)
    expect_equal("order status after placing", "ORDER_STATUS_AUTHORIZED", query_pb.OrderStatus.Name(authorized.order.status))
    fulfilled = orders.FulfillOrder(orders_pb.FulfillOrderRequest(order_id=placed.order_id, request_id=f"fulfil-{run_id}"), **call)

    # 3. The order as of the fulfilment's position: min_position makes the read see it paid.
    found = query.GetOrder(query_pb.GetOrderRequest(order_id=placed.order_id, min_position=fulfilled.position), **call)
    order = found.order
    expect_equal("order status", "ORDER_STATUS_PAID", query_pb.OrderStatus.Name(order.status))
    expect_equal("payment id", placed.payment_id, fulfilled.payment_id)
    expect_equal("order amount", PRICE, order.amount_minor)

    # 4. The customer's statement, every page, as of at least the read position that showed the order paid.
    lines, page_token = [], ""
    while True:
        page = query.ListTransactions(query_pb.ListTransactionsRequest(
            account_id=customer.account_id, page_size=100, page_token=page_token, min_position=found.position), **call)
        lines.extend(page.transactions)
        page_token = page.next_page_token
        if not page_token:
            break
    expected = [("TRANSACTION_KIND_DEPOSIT", DEPOSIT, +1), ("TRANSACTION_KIND_PAYMENT_DEBIT", PRICE, -1)]
    expect_equal("statement lines", len(expected), len(lines))
    balance = 0
    for number, (line, (kind, amount, sign)) in enumerate(zip(lines, expected), start=1):
        expect_equal(f"statement line {number} kind", kind, query_pb.TransactionKind.Name(line.kind))
        expect_equal(f"statement line {number} amount_minor", amount, line.amount_minor)
        balance += sign * line.amount_minor
        expect_equal(f"statement line {number} balance_after_minor", balance, line.balance_after_minor)
    expect_equal("payment debit order_id", placed.order_id, lines[1].order_id)

    # 5. The event feed from the start, filtered to order events, until this order's OrderPaid.
    order_events = read_until_order_paid(history, metadata, f"order-{placed.order_id}")
    expect_equal("order events", "orders.OrderAuthorized.v1 → orders.OrderPaid.v1",
                 " → ".join(e.event_type for e in order_events))

    # 6. A transfer moves the money in one commit: its reply comes once the payment is COMPLETED. One the balance
    #    cannot cover is refused (FAILED_PRECONDITION) and writes nothing.
    after_order = DEPOSIT - PRICE
    transfer = payments.TransferMoney(payments_pb.TransferMoneyRequest(
        from_account_id=customer.account_id, to_account_id=merchant.account_id, amount_minor=1_000, currency_code=CURRENCY,
        reference="invoice 42", request_id=f"transfer-{run_id}"), **call)
    payment = query.GetPayment(query_pb.GetPaymentRequest(payment_id=transfer.payment_id, min_position=transfer.position), **call).payment
    expect_equal("transfer status", "PAYMENT_STATUS_COMPLETED", query_pb.PaymentStatus.Name(payment.status))
    refusal = refused(lambda: payments.TransferMoney(payments_pb.TransferMoneyRequest(
        from_account_id=customer.account_id, to_account_id=merchant.account_id, amount_minor=1_000_000, currency_code=CURRENCY,
        request_id=f"overdraft-{run_id}"), **call))
    expect_equal("transfer beyond the balance", grpc.StatusCode.FAILED_PRECONDITION, refusal.code())
    after_transfer = query.GetAccount(query_pb.GetAccountRequest(account_id=customer.account_id, min_position=transfer.position), **call)
    expect_equal("balance after the transfers", after_order - 1_000, after_transfer.account.balance_minor)

    # 7. Many commands in one call. Independent: each has its own result, a failed one its own status. Atomic: all
    #    or nothing, and the call fails with the failing command's status, naming its index.
    def deposit(amount, request_id):
        return batch_pb.BatchCommand(deposit=accounts_pb.DepositMoneyRequest(
            account_id=customer.account_id, amount_minor=amount, currency_code=CURRENCY, request_id=request_id))

    def withdraw(amount, request_id):
        return batch_pb.BatchCommand(withdraw=accounts_pb.WithdrawMoneyRequest(
            account_id=customer.account_id, amount_minor=amount, currency_code=CURRENCY, request_id=request_id))

    results = batches.ExecuteBatch(batch_pb.ExecuteBatchRequest(commands=[
        deposit(500, f"batch-deposit-{run_id}"),
        withdraw(1_000_000, f"batch-withdraw-{run_id}"),
        batch_pb.BatchCommand(transfer=payments_pb.TransferMoneyRequest(
            from_account_id=customer.account_id, to_account_id=merchant.account_id, amount_minor=200, currency_code=CURRENCY,
            request_id=f"batch-transfer-{run_id}")),
    ]), **call).results
    expect_equal("batch results", "deposit, error, transfer", ", ".join(r.WhichOneof("result") for r in results))
    expect_equal("batch deposit balance", after_order - 1_000 + 500, results[0].deposit.balance_minor)
    expect_equal("batch withdrawal status", grpc.StatusCode.FAILED_PRECONDITION.value[0], results[1].error.code)
    atomic = refused(lambda: batches.ExecuteBatch(batch_pb.ExecuteBatchRequest(atomic=True, commands=[
        deposit(100, f"atomic-deposit-{run_id}"), withdraw(1_000_000, f"atomic-withdraw-{run_id}")]), **call))
    expect_equal("atomic batch status", grpc.StatusCode.FAILED_PRECONDITION, atomic.code())
    expect_equal("atomic batch names the failing command", True, atomic.details().startswith("commands[1]: "))
    after_batches = query.GetAccount(query_pb.GetAccountRequest(
        account_id=customer.account_id, min_position=results[2].transfer.position), **call)
    expect_equal("balance after the batches (the atomic one wrote nothing)", after_order - 1_000 + 500 - 200,
                 after_batches.account.balance_minor)

    print(f"GrpcBank at {target}: scenario passed")
    print(f"  accounts   {customer.account_id} (customer), {merchant.account_id} (merchant), {CURRENCY}")
    print(f"  deposit    {money(DEPOSIT)} → balance {money(deposited.balance_minor)}")
    print(f"  order      {placed.order_id} for {money(PRICE)}: {query_pb.OrderStatus.Name(order.status)} "
          f"(payment {order.payment_id})")
    print("  statement  " + "; ".join(
        f"{query_pb.TransactionKind.Name(l.kind).removeprefix('TRANSACTION_KIND_')} {money(l.amount_minor)} "
        f"→ {money(l.balance_after_minor)}" for l in lines))
    print("  events     " + ", ".join(f"{e.event_type}@{e.position}" for e in order_events)
          + f" (OrderPaid at position {order_events[-1].position})")
    print(f"  transfer   {money(1_000)} (payment {transfer.payment_id}): {query_pb.PaymentStatus.Name(payment.status)}; "
          f"{money(1_000_000)} refused: {refusal.code().name}")
    print(f"  batches    independent: {', '.join(r.WhichOneof('result') for r in results)}; atomic: {atomic.code().name} "
          f"({atomic.details()}); balance {money(after_batches.account.balance_minor)}")


def refused(call):
    """The gRPC error a call fails with; a call that succeeds is a mismatch."""
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise Mismatch("the call succeeded; it should have been refused")


def read_until_order_paid(history, metadata, stream_id):
    """Subscribes from position 0 (exclusive) and returns this stream's events once OrderPaid has arrived."""
    stream = history.SubscribeAll(history_pb.SubscribeAllRequest(from_position=0, event_type_prefixes=["orders."]),
                                  metadata=metadata, timeout=PAID_WITHIN_SECONDS)
    seen = []
    try:
        for response in stream:
            event = response.event
            if event.stream_id != stream_id:
                continue
            seen.append(event)
            if event.event_type == "orders.OrderPaid.v1":
                return seen
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
        raise Mismatch(f"no orders.OrderPaid.v1 for {stream_id} on SubscribeAll within {PAID_WITHIN_SECONDS} s "
                       f"(saw {len(seen)} of its events)") from None
    finally:
        stream.cancel()  # we have what we came for; the stream would otherwise go on live
    raise Mismatch(f"SubscribeAll ended before orders.OrderPaid.v1 for {stream_id}")


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GRPCBANK_ADDRESS", "127.0.0.1:5000")
    api_key = os.environ.get("GRPCBANK_API_KEY", "")
    metadata = [("authorization", f"Bearer {api_key}")] if api_key else []
    try:
        with grpc.insecure_channel(target) as channel:
            run(channel, target, metadata)
        return 0
    except Mismatch as mismatch:
        print(f"MISMATCH {mismatch}", file=sys.stderr)
    except grpc.RpcError as error:
        print(f"gRPC error {error.code().name}: {error.details()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
