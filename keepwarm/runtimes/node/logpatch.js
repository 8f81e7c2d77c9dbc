'use strict';
/**
 * console.* as Lambda's Node runtime writes it (contract §7.4):
 *   <ISO time>\t<request id>\t<LEVEL>\t<message>   with every inner "\n" turned into "\r",
 * so one console call is one log event. AWS_LAMBDA_LOG_LEVEL filters, AWS_LAMBDA_LOG_FORMAT=JSON
 * switches to one JSON object per line. stdout is a pipe: writes are synchronous on Linux, so
 * the lines are in the environment's log before the runtime posts its answer.
 */

const util = require('util');
const { intoError, toFormatted } = require('./errors.js');

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});

function setCurrentRequestId(id) {
  global[REQUEST_ID] = id;
}

function errorReplacer(_key, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

// console.log() with no argument logs `undefined`, as aws-lambda-ric's log(level, message, ...)
const atLeastOne = (params) => (params.length === 0 ? [undefined] : params);

function jsonLine(level, time, given) {
  const params = atLeastOne(given);
  const out = { timestamp: time, level: level.name, requestId: global[REQUEST_ID] };
  if (params.length === 1) {
    out.message = params[0];
    try {
      return JSON.stringify(out, errorReplacer);
    } catch (_err) {
      out.message = util.format(out.message);
      return JSON.stringify(out);
    }
  }
  out.message = util.format(...params);
  const error = params.find((p) => p instanceof Error);
  if (error) {
    out.errorType = error?.constructor?.name ?? 'UnknownError';
    out.errorMessage = error.message;
    out.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(out);
}

function textLine(level, time, params) {
  return `${time}\t${global[REQUEST_ID]}\t${level.name}\t${util.format(...atLeastOne(params))}`;
}

function patchConsole() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const format = json ? jsonLine : textLine;
  const threshold = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const writer = (level) => {
    if (level.priority < threshold.priority) return () => {};
    return (...params) => {
      const line = format(level, new Date().toISOString(), params).replace(/\n/g, '\r');
      process.stdout.write(line + '\n');
    };
  };
  console.trace = writer(LEVELS.TRACE);
  console.debug = writer(LEVELS.DEBUG);
  console.info = writer(LEVELS.INFO);
  console.log = console.info;
  console.warn = writer(LEVELS.WARN);
  console.error = writer(LEVELS.ERROR);
  console.fatal = writer(LEVELS.FATAL);
  return json
    ? (_message, err) => console.error(intoError(err))
    : (message, err) => console.error(message, toFormatted(intoError(err)));
}

module.exports = { patchConsole, setCurrentRequestId };
