// Codec benchmark: decode and encode rates of typical vCenter messages, next
// to a Buffer-copy baseline of the same bytes measured in the same run.
// Run: npm run bench -w libs/kmip   (single-threaded: one core)

import { RequestMessage, ResponseMessage, decodeRequest, decodeResponse, encodeRequest, encodeResponse, sampleGetResponse, vcenter } from '../index';

interface Result {
  name: string;
  opsPerSec: number;
}

/** Runs fn repeatedly for ~ms milliseconds, `rounds` times; returns the median rate. */
function measure(name: string, fn: () => unknown, ms = 400, rounds = 5): Result {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(ms) * 1_000_000n;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 200; i++) fn();
      n += 200;
      now = process.hrtime.bigint();
    }
    rates.push(n / (Number(now - start) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { name, opsPerSec: rates[Math.floor(rates.length / 2)] };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);

function main(): void {
  const getResponse: ResponseMessage = sampleGetResponse('7f1c2a6e-3b8d-4c55-9f1e-2d4a6b8c0e11', Buffer.alloc(32, 0x5a));
  const createRequest: RequestMessage = vcenter.create(3);
  const getBytes = encodeResponse(getResponse);
  const createBytes = encodeRequest(createRequest);
  let sink = 0;

  const results: Array<[Result, Result]> = [];
  const copyGet = measure(`Buffer copy (${getBytes.length} B)`, () => { sink += Buffer.from(getBytes).length; });
  results.push([measure('Get response   decode', () => { sink += decodeResponse(getBytes).batchItems.length; }), copyGet]);
  results.push([measure('Get response   encode', () => { sink += encodeResponse(getResponse).length; }), copyGet]);
  results.push([measure('Get response   decode+encode', () => { sink += encodeResponse(decodeResponse(getBytes)).length; }), copyGet]);
  const copyCreate = measure(`Buffer copy (${createBytes.length} B)`, () => { sink += Buffer.from(createBytes).length; });
  results.push([measure('Create request decode', () => { sink += decodeRequest(createBytes).batchItems.length; }), copyCreate]);
  results.push([measure('Create request encode', () => { sink += encodeRequest(createRequest).length; }), copyCreate]);
  results.push([measure('Create request decode+encode', () => { sink += encodeRequest(decodeRequest(createBytes)).length; }), copyCreate]);

  console.log(`libs/kmip codec benchmark (node ${process.version}, one thread)`);
  console.log(`Get response ${getBytes.length} bytes, Create request ${createBytes.length} bytes`);
  console.log('operation                         msgs/s    baseline copy/s   ratio to copy');
  for (const [r, base] of results) {
    console.log(`${r.name.padEnd(30)}${fmt(r.opsPerSec)}  ${fmt(base.opsPerSec)}      ${(r.opsPerSec / base.opsPerSec).toFixed(3)}`);
  }
  const typical = Math.min(results[2][0].opsPerSec, results[5][0].opsPerSec);
  console.log(`typical vCenter message decode+encode: ${fmt(typical).trim()} msgs/s (aim >= 200,000): ${typical >= 200_000 ? 'MET' : 'NOT MET'}`);
  if (sink === -1) console.log(sink);
}

main();
