#!/usr/bin/env node
// A sample GrpcBank client: opens a customer's and a merchant's account, deposits, places an order (its amount
// held: AUTHORIZED), fulfils it (paid in one commit), reads the customer's statement, follows the event feed to
// the OrderPaid event, transfers money (and is refused a transfer the balance cannot cover), and sends a batch of
// commands both independent and atomic. Exit code 0 when everything matched, 1 (with what differed) otherwise.
//
//   node scenario.js [host:port]        (or GRPCBANK_ADDRESS; default 127.0.0.1:5000)
//   GRPCBANK_API_KEY=<key>              sent as 'authorization: Bearer <key>' when set
'use strict';

const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const address = process.argv[2] || process.env.GRPCBANK_ADDRESS || '127.0.0.1:5000';
const apiKey = process.env.GRPCBANK_API_KEY || '';
const protosDir = process.env.GRPCBANK_PROTOS || path.resolve(__dirname, '../../../protos');
const CALL_SECONDS = 10;
const PAID_WITHIN_SECONDS = 30;

// The protos are loaded at run time. int64 fields arrive as JS numbers: exact up to 2^53, plenty for a sample.
const definition = protoLoader.loadSync(
  [
    'bank/accounts/v1/account_service.proto',
    'bank/orders/v1/order_service.proto',
    'bank/query/v1/query_service.proto',
    'bank/history/v1/history_service.proto',
    'bank/payments/v1/payment_service.proto',
    'bank/batch/v1/batch_service.proto',
  ],
  { includeDirs: [protosDir], keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true },
);
const bank = grpc.loadPackageDefinition(definition).bank;

class Mismatch extends Error {}

function expectEqual(what, expected, actual) {
  if (expected !== actual) throw new Mismatch(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function metadata() {
  const md = new grpc.Metadata();
  if (apiKey) md.set('authorization', `Bearer ${apiKey}`);
  return md;
}

function deadline(seconds = CALL_SECONDS) {
  return new Date(Date.now() + seconds * 1000);
}

// Turns a unary method of a generated client into a promise with a deadline and the auth header.
function unary(client, method) {
  return (request) =>
    new Promise((resolve, reject) =>
      client[method](request, metadata(), { deadline: deadline() }, (err, response) => (err ? reject(err) : resolve(response))));
}


async function main() {
  const credentials = grpc.credentials.createInsecure();
  const accounts = new bank.accounts.v1.AccountService(address, credentials);
  const orders = new bank.orders.v1.OrderService(address, credentials);
  const query = new bank.query.v1.QueryService(address, credentials);
  const history = new bank.history.v1.HistoryService(address, credentials);
  const payments = new bank.payments.v1.PaymentService(address, credentials);
  const batches = new bank.batch.v1.BatchService(address, credentials);
  const clients = [accounts, orders, query, history, payments, batches];
  try {
    const run = crypto.randomBytes(4).toString('hex');
    const currency = 'EUR';
    const deposit = 10_000;
    const price = 2_550;

    // 1. Two accounts and a deposit.
    const openAccount = unary(accounts, 'OpenAccount');
    const customer = await openAccount({ account_id: `node-customer-${run}`, owner_name: 'Ada Lovelace', currency_code: currency, request_id: `open-customer-${run}` });
    const merchant = await openAccount({ account_id: `node-merchant-${run}`, owner_name: 'Babbage Books', currency_code: currency, request_id: `open-merchant-${run}` });
    const deposited = await unary(accounts, 'DepositMoney')({
      account_id: customer.account_id, amount_minor: deposit, currency_code: currency, reference: 'salary', request_id: `deposit-${run}`,
    });
    expectEqual('balance after the deposit', deposit, deposited.balance_minor);

    // 2. An order: its amount is held on the customer's account (AUTHORIZED), then fulfilment captures it and pays
    //    the merchant in one commit.
    const placed = await unary(orders, 'PlaceOrder')({
      customer_account_id: customer.account_id, merchant_account_id: merchant.account_id,
      amount_minor: price, currency_code: currency, description: 'Sketches of the Analytical Engine', request_id: `order-${run}`,
    });
    expectEqual('order authorized', true, placed.authorized);
    const getOrder = unary(query, 'GetOrder');
    const authorized = await getOrder({ order_id: placed.order_id, min_position: placed.position });
    expectEqual('order status after placing', 'ORDER_STATUS_AUTHORIZED', authorized.order.status);
    const fulfilled = await unary(orders, 'FulfillOrder')({ order_id: placed.order_id, request_id: `fulfil-${run}` });

    // 3. The order as of the fulfilment's position: min_position makes the read see it paid.
    const { order, position } = await getOrder({ order_id: placed.order_id, min_position: fulfilled.position });
    expectEqual('order status', 'ORDER_STATUS_PAID', order.status);
    expectEqual('payment id', placed.payment_id, fulfilled.payment_id);
    expectEqual('order amount', price, order.amount_minor);

    // 4. The customer's statement, every page, as of at least the read position that showed the order paid.
    const listTransactions = unary(query, 'ListTransactions');
    const lines = [];
    let pageToken = '';
    do {
      const page = await listTransactions({ account_id: customer.account_id, page_size: 100, page_token: pageToken, min_position: position });
      lines.push(...page.transactions);
      pageToken = page.next_page_token;
    } while (pageToken);
    const expected = [
      { kind: 'TRANSACTION_KIND_DEPOSIT', amount: deposit, sign: +1 },
      { kind: 'TRANSACTION_KIND_PAYMENT_DEBIT', amount: price, sign: -1 },
    ];
    expectEqual('statement lines', expected.length, lines.length);
    let balance = 0;
    lines.forEach((line, i) => {
      expectEqual(`statement line ${i + 1} kind`, expected[i].kind, line.kind);
      expectEqual(`statement line ${i + 1} amount_minor`, expected[i].amount, line.amount_minor);
      balance += expected[i].sign * line.amount_minor;
      expectEqual(`statement line ${i + 1} balance_after_minor`, balance, line.balance_after_minor);
    });
    expectEqual('payment debit order_id', placed.order_id, lines[1].order_id);

    // 5. The event feed from the start, filtered to order events, until this order's OrderPaid.
    const orderEvents = await readUntilOrderPaid(history, `order-${placed.order_id}`);
    expectEqual('order events', 'orders.OrderAuthorized.v1 → orders.OrderPaid.v1', orderEvents.map((e) => e.event_type).join(' → '));

    // 6. A transfer moves the money in one commit: its reply comes once the payment is COMPLETED. One the balance
    //    cannot cover is refused (FAILED_PRECONDITION) and writes nothing.
    const afterOrder = deposit - price;
    const transfer = await unary(payments, 'TransferMoney')({
      from_account_id: customer.account_id, to_account_id: merchant.account_id, amount_minor: 1_000, currency_code: currency,
      reference: 'invoice 42', request_id: `transfer-${run}`,
    });
    const { payment } = await unary(query, 'GetPayment')({ payment_id: transfer.payment_id, min_position: transfer.position });
    expectEqual('transfer status', 'PAYMENT_STATUS_COMPLETED', payment.status);
    const refusal = await refused(() => unary(payments, 'TransferMoney')({
      from_account_id: customer.account_id, to_account_id: merchant.account_id, amount_minor: 1_000_000, currency_code: currency,
      request_id: `overdraft-${run}`,
    }));
    expectEqual('transfer beyond the balance', grpc.status.FAILED_PRECONDITION, refusal.code);
    const getAccount = unary(query, 'GetAccount');
    const afterTransfer = await getAccount({ account_id: customer.account_id, min_position: transfer.position });
    expectEqual('balance after the transfers', afterOrder - 1_000, afterTransfer.account.balance_minor);

    // 7. Many commands in one call. Independent: each has its own result, a failed one its own status. Atomic: all
    //    or nothing, and the call fails with the failing command's status, naming its index.
    const executeBatch = unary(batches, 'ExecuteBatch');
    const { results } = await executeBatch({
      commands: [
        { deposit: { account_id: customer.account_id, amount_minor: 500, currency_code: currency, request_id: `batch-deposit-${run}` } },
        { withdraw: { account_id: customer.account_id, amount_minor: 1_000_000, currency_code: currency, request_id: `batch-withdraw-${run}` } },
        { transfer: { from_account_id: customer.account_id, to_account_id: merchant.account_id, amount_minor: 200, currency_code: currency, request_id: `batch-transfer-${run}` } },
      ],
    });
    expectEqual('batch results', 'deposit, error, transfer', results.map((r) => r.result).join(', '));
    expectEqual('batch deposit balance', afterOrder - 1_000 + 500, results[0].deposit.balance_minor);
    expectEqual('batch withdrawal status', grpc.status.FAILED_PRECONDITION, results[1].error.code);
    const atomic = await refused(() => executeBatch({
      atomic: true,
      commands: [
        { deposit: { account_id: customer.account_id, amount_minor: 100, currency_code: currency, request_id: `atomic-deposit-${run}` } },
        { withdraw: { account_id: customer.account_id, amount_minor: 1_000_000, currency_code: currency, request_id: `atomic-withdraw-${run}` } },
      ],
    }));
    expectEqual('atomic batch status', grpc.status.FAILED_PRECONDITION, atomic.code);
    expectEqual('atomic batch names the failing command', true, atomic.details.startsWith('commands[1]: '));
    const afterBatches = await getAccount({ account_id: customer.account_id, min_position: results[2].transfer.position });
    expectEqual('balance after the batches (the atomic one wrote nothing)', afterOrder - 1_000 + 500 - 200, afterBatches.account.balance_minor);

    const paidAt = orderEvents[orderEvents.length - 1];
    console.log(`GrpcBank at ${address}: scenario passed`);
    console.log(`  accounts   ${customer.account_id} (customer), ${merchant.account_id} (merchant), ${currency}`);
    console.log(`  deposit    ${money(deposit)} → balance ${money(deposited.balance_minor)}`);
    console.log(`  order      ${placed.order_id} for ${money(price)}: ${order.status} (payment ${order.payment_id})`);
    console.log(`  statement  ${lines.map((l) => `${l.kind.replace('TRANSACTION_KIND_', '')} ${money(l.amount_minor)} → ${money(l.balance_after_minor)}`).join('; ')}`);
    console.log(`  events     ${orderEvents.map((e) => `${e.event_type}@${e.position}`).join(', ')} (OrderPaid at position ${paidAt.position})`);
    console.log(`  transfer   ${money(1_000)} (payment ${transfer.payment_id}): ${payment.status}; ${money(1_000_000)} refused: ${grpc.status[refusal.code]}`);
    console.log(`  batches    independent: ${results.map((r) => r.result).join(', ')}; atomic: ${grpc.status[atomic.code]} (${atomic.details}); balance ${money(afterBatches.account.balance_minor)}`);
    return 0;
  } finally {
    clients.forEach((c) => c.close());
  }
}

// Subscribes from position 0 (exclusive) and resolves with this stream's events once OrderPaid has arrived.
function readUntilOrderPaid(history, streamId) {
  return new Promise((resolve, reject) => {
    const seen = [];
    let done = false;
    const call = history.SubscribeAll({ from_position: 0, event_type_prefixes: ['orders.'] }, metadata(), { deadline: deadline(PAID_WITHIN_SECONDS) });
    call.on('data', ({ event }) => {
      if (done || event.stream_id !== streamId) return;
      seen.push(event);
      if (event.event_type === 'orders.OrderPaid.v1') {
        done = true;
        call.cancel(); // we have what we came for; the stream would otherwise go on live
        resolve(seen);
      }
    });
    call.on('error', (err) => {
      if (done) return; // the CANCELLED we caused ourselves
      done = true;
      reject(err.code === grpc.status.DEADLINE_EXCEEDED
        ? new Mismatch(`no orders.OrderPaid.v1 for ${streamId} on SubscribeAll within ${PAID_WITHIN_SECONDS} s (saw ${seen.length} of its events)`)
        : err);
    });
    call.on('end', () => {
      if (!done) { done = true; reject(new Mismatch(`SubscribeAll ended before orders.OrderPaid.v1 for ${streamId}`)); }
    });
  });
}

// Resolves with the gRPC error a call fails with; a call that succeeds is a mismatch.
async function refused(call) {
  try {
    await call();
  } catch (err) {
    if (err && err.code !== undefined) return err;
    throw err;
  }
  throw new Mismatch('the call succeeded; it should have been refused');
}

const money = (minor) => `${(minor / 100).toFixed(2)}`;

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof Mismatch) console.error(`MISMATCH ${err.message}`);
    else if (err && err.code !== undefined && err.details !== undefined) console.error(`gRPC error ${grpc.status[err.code]} (${err.code}): ${err.details}`);
    else console.error(err);
    process.exit(1);
  },
);
