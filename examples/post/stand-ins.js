'use strict';
/*
 * Stand-ins for the two services the post's snippets call without declaring: `db` (cache.js)
 * and `payments` (payment.js). The snippets stay verbatim; this file is preloaded before them
 * with NODE_OPTIONS=--require ./stand-ins.js (see template.yaml) and defines the two globals.
 * Both answer asynchronously, like a real database or payment API would.
 */

let lookups = 0;

globalThis.db = {
  /** Look an item up; every lookup is numbered so a cache hit is visible (same number). */
  find(item, callback) {
    lookups += 1;
    const lookup = lookups;
    console.log(`db.find(${JSON.stringify(item)}) lookup #${lookup}`);
    setTimeout(() => {
      if (item === undefined || item === null || item === '') {
        callback(new Error('item is required'));
      } else {
        callback(null, { item: item, lookup: lookup, loadedAt: new Date().toISOString() });
      }
    }, 5);
  },
};

function luhnValid(number) {
  const digits = String(number ?? '').replace(/\s+/g, '');
  if (!/^\d{12,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

globalThis.payments = {
  /** "Connect to the payment system": answers a little later, logging which card it checked. */
  verify(card, callback) {
    setTimeout(() => {
      const last4 = String(card.number ?? '').slice(-4);
      console.log(`payments.verify: card ending ${last4}`);
      callback(luhnValid(card.number) ? null : new Error('card declined'));
    }, 20);
  },
};
