// The handler keeps nothing itself; its local helper module does.
const audit = require('./js_audit_helper');

exports.handler = async (event) => {
  audit.record(event);
  return { ok: true };
};
