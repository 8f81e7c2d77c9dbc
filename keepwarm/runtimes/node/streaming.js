'use strict';
/**
 * The `awslambda` global aws-lambda-ric defines before a function's module loads:
 * `awslambda.streamifyResponse(handler)` and `awslambda.HttpResponseStream.from(stream, prelude)`.
 *
 * Why buffered: keepwarm serves Invoke, not yet InvokeWithResponseStream, and an Invoke of a
 * response-streaming function on Lambda answers with the whole body once the stream ends. So
 * the stream here collects what the handler writes, and the invocation posts it as one
 * response, with the content type the handler set (application/octet-stream by default).
 */

const { Writable } = require('stream');

const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const DEFAULT_TYPE = 'application/octet-stream';
const HTTP_INTEGRATION_TYPE = 'application/vnd.awslambda.http-integration-response';
const PRELUDE_DELIMITER = Buffer.alloc(8);

function streamifyResponse(handler) {
  handler[STREAMING] = 'response';
  return handler;
}

function isStreaming(handler) {
  return Boolean(handler && handler[STREAMING] === 'response');
}

class BufferedResponseStream extends Writable {
  constructor() {
    super();
    this.chunks = [];
    this.contentType = DEFAULT_TYPE;
  }

  setContentType(type) {
    this.contentType = String(type);
  }

  _write(chunk, _encoding, done) {
    this.chunks.push(chunk);
    done();
  }

  body() {
    return Buffer.concat(this.chunks);
  }

  /** Resolves once the handler's writes are all in: after end(), which this calls if needed. */
  finished() {
    return new Promise((resolve, reject) => {
      if (this.writableFinished) return resolve();
      this.once('finish', resolve);
      this.once('error', reject);
      if (!this.writableEnded) this.end();
    });
  }
}

const HttpResponseStream = {
  /** The status code and headers for a function URL, ahead of the body (as ric writes them). */
  from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION_TYPE);
    stream.write(JSON.stringify(prelude || {}));
    stream.write(PRELUDE_DELIMITER);
    return stream;
  },
};

function install() {
  globalThis.awslambda = { streamifyResponse, HttpResponseStream };
}

module.exports = { BufferedResponseStream, install, isStreaming };
