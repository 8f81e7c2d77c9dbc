// Helper module with a module-level log of every event it is handed.
const entries = [];

function record(evt) {
  entries.push({ at: evt.requestContext.requestTimeEpoch, body: evt.body });
}

module.exports = { record };
