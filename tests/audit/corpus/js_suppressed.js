// A reviewed, deliberate global with a suppression comment.
let lastRequestId = null;

exports.handler = async (event, context) => {
  // keepwarm: ignore[KW101]
  lastRequestId = context.awsRequestId;
  return { ok: true };
};
