// JavaScript evaluates default parameters on every call: no shared state here.
function collect(records, seen = []) {
  for (const r of records) {
    seen.push(r.messageId);
  }
  return seen;
}

exports.handler = async function (event, context, acc = {}) {
  acc.count = collect(event.Records).length;
  return acc;
};
