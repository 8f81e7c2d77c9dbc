'use strict';
/**
 * The context object and the completion rules of a Node invocation (contract §3.3).
 *
 * Rules, as aws-lambda-ric has them: `callback(err)` posts the error at once; `callback(null, r)`
 * posts `r` only when the event loop drains, unless `callbackWaitsForEmptyEventLoop` is false;
 * `done/succeed/fail` post at once (`fail()` with no argument posts "handled"); only the first
 * completion counts. A handler that never completes: a plain function succeeds with null when
 * the loop drains; an async one fails with Runtime.NodeJsExit. "The loop drains" is Node's
 * `beforeExit` event, whose single listener the runtime swaps per invocation.
 */

const { setCurrentRequestId } = require('./logpatch.js');

const exitListener = {
  _listener: () => {},
  invoke() {
    exitListener._listener();
  },
  reset() {
    exitListener._listener = () => {};
  },
  set(listener) {
    exitListener._listener = listener;
  },
};

const HEADERS = {
  clientContext: 'lambda-runtime-client-context',
  identity: 'lambda-runtime-cognito-identity',
  arn: 'lambda-runtime-invoked-function-arn',
  requestId: 'lambda-runtime-aws-request-id',
  deadline: 'lambda-runtime-deadline-ms',
  trace: 'lambda-runtime-trace-id',
  tenant: 'lambda-runtime-aws-tenant-id',
};

function parseJson(text, name) {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class InvokeContext {
  constructor(headers) {
    this.headers = {};
    for (const [key, value] of Object.entries(headers)) this.headers[key.toLowerCase()] = value;
    this.invokeId = this.headers[HEADERS.requestId];
    if (!this.invokeId) throw new Error('invocation id is missing or invalid');
  }

  updateLoggingContext() {
    setCurrentRequestId(this.invokeId);
  }

  /** Copy the env and header data onto the callback context: that object is `context`. */
  attachEnvironmentData(callbackContext) {
    const trace = this.headers[HEADERS.trace];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    const deadline = Number(this.headers[HEADERS.deadline]);
    return Object.assign(callbackContext, {
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: parseJson(this.headers[HEADERS.clientContext], 'ClientContext'),
      identity: parseJson(this.headers[HEADERS.identity], 'CognitoIdentity'),
      invokedFunctionArn: this.headers[HEADERS.arn],
      awsRequestId: this.invokeId,
      tenantId: this.headers[HEADERS.tenant],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
  }
}

/** [callback, context, markCompleted] for one invocation; see the rules above. */
function buildCallbackContext(client, id, scheduleNext, logError) {
  let completed = false;
  const postError = (err, then) => {
    logError('Invoke Error', err);
    client.postInvocationError(err, id, then);
  };
  const complete = (result, then) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    completed = true;
    client.postInvocationResponse(result, id, then);
  };
  let waitForEmptyEventLoop = true;

  const callback = (err, result) => {
    exitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      exitListener.set(() => setImmediate(() => complete(result, scheduleNext)));
    }
  };
  const done = (err, result) => {
    exitListener.reset();
    if (err !== undefined && err !== null) postError(err, scheduleNext);
    else complete(result, scheduleNext);
  };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: (result) => done(null, result),
    fail: (err) => (err === undefined || err === null ? done('handled') : done(err, null)),
    done,
  };

  let finished = false;
  const firstOnly =
    (fn) =>
    (...args) => {
      if (finished) return;
      fn(...args);
      finished = true;
    };
  context.succeed = firstOnly(context.succeed);
  context.fail = firstOnly(context.fail);
  context.done = firstOnly(context.done);
  return [firstOnly(callback), context, () => (completed = true)];
}

module.exports = { InvokeContext, buildCallbackContext, exitListener };
