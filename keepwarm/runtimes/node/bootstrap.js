'use strict';
/**
 * keepwarm's Node.js runtime: `node bootstrap.js` inside an environment, speaking the Runtime API
 * at AWS_LAMBDA_RUNTIME_API. Init loads the handler named by _HANDLER from LAMBDA_TASK_ROOT;
 * then one invocation at a time, forever, with aws-lambda-ric's completion rules (context.js).
 *
 * An uncaught exception or unhandled rejection posts /error (or /init/error during Init) and
 * exits 129 / 128, which resets the environment: globals are gone, /tmp stays (contract §1.7).
 * Timeouts and memory limits are the environment's business, not this file's.
 */

const { RapidClient } = require('./rapid.js');
const { patchConsole } = require('./logpatch.js');
const { InvokeContext, buildCallbackContext, exitListener } = require('./context.js');
const { load, isAsync } = require('./loader.js');
const {
  CallbackHandlerDeprecated,
  NodeJsExit,
  UnhandledPromiseRejection,
} = require('./errors.js');
const { BufferedResponseStream, install, isStreaming } = require('./streaming.js');

function isPromise(value) {
  return Boolean(value && value.then && typeof value.then === 'function');
}

class Runtime {
  constructor(client, handler, errorCallbacks, logError) {
    this.client = client;
    this.handler = handler;
    this.handlerIsAsync = isAsync(handler);
    this.errorCallbacks = errorCallbacks;
    this.logError = logError;
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async handleOnce() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeContext = new InvokeContext(headers);
    invokeContext.updateLoggingContext();
    const id = invokeContext.invokeId;
    const [callback, callbackContext, markCompleted] = buildCallbackContext(
      this.client,
      id,
      this.scheduleIteration.bind(this),
      this.logError,
    );
    try {
      this.setErrorCallbacks(id);
      this.setDefaultExitListener(id, markCompleted);
      const context = forUser(invokeContext.attachEnvironmentData(callbackContext));
      if (isStreaming(this.handler)) {
        this.invokeStreaming(JSON.parse(bodyJson), context, id, callback, markCompleted);
        return;
      }
      const result = this.handler(JSON.parse(bodyJson), context, callback);
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /** A streamifyResponse handler: what it wrote to its stream is the response (streaming.js). */
  invokeStreaming(event, context, id, callback, markCompleted) {
    const stream = new BufferedResponseStream();
    Promise.resolve()
      .then(() => this.handler(event, stream, context))
      .then(() => stream.finished())
      .then(
        () => {
          exitListener.reset();
          markCompleted();
          const next = () => this.scheduleIteration();
          this.client.postRawResponse(stream.body(), stream.contentType, id, next);
        },
        (err) => callback(err),
      );
  }

  setErrorCallbacks(id) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(error, id, () => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(error, id, () => process.exit(128));
    };
  }

  /** The loop drained and nothing completed: null for plain handlers, an error for async. */
  setDefaultExitListener(id, markCompleted) {
    exitListener.set(() => {
      markCompleted();
      const next = () => this.scheduleIteration();
      if (this.handlerIsAsync) {
        const error = new NodeJsExit();
        this.logError('Invoke Error', error);
        this.client.postInvocationError(error, id, next);
      } else {
        this.client.postInvocationResponse(null, id, next);
      }
    });
  }
}

/** Node.js 24 and later: aws-lambda-ric refuses a handler of three or more parameters at Init
 * (callback style), unless it is a streaming one (event, responseStream, context). */
function refuseCallbackHandler(handler) {
  if (nodeMajor() >= 24 && !isStreaming(handler) && handler.length >= 3) {
    throw new CallbackHandlerDeprecated();
  }
}

/** Node.js 24 and later give handlers a context without the callback-era members. */
function forUser(context) {
  if (nodeMajor() < 24) return context;
  const { succeed, fail, done, ...rest } = context;
  delete rest.callbackWaitsForEmptyEventLoop;
  return rest;
}

function nodeMajor() {
  const match = /nodejs(\d+)/.exec(process.env.AWS_EXECUTION_ENV || '');
  return match ? Number(match[1]) : 0;
}

async function main() {
  const logError = patchConsole();
  const client = new RapidClient(process.env.AWS_LAMBDA_RUNTIME_API);
  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on('uncaughtException', (error) => {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  exitListener.reset();
  process.on('beforeExit', exitListener.invoke);

  install();
  let handler;
  try {
    handler = await load(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || '');
    refuseCallbackHandler(handler);
  } catch (error) {
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  new Runtime(client, handler, errorCallbacks, logError).scheduleIteration();
}

main();
