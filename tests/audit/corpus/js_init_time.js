// Ids and timestamps computed at init are shared by every invocation and snapshot copy.
const crypto = require('crypto');

const INSTANCE_ID = crypto.randomUUID();
const BOOTED_AT = Date.now();

exports.handler = async () => ({ instance: INSTANCE_ID, bootedAt: BOOTED_AT });
