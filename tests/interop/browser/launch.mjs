// SPDX-License-Identifier: Apache-2.0
// What the browser scripts share: command-line arguments, and headless Chromium as every test
// starts it (Debian's /usr/bin/chromium, no sandbox, no GPU, no background networking).
import { chromium } from 'playwright-core';

// The value after --NAME on the command line, or `fallback`.
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

// --ignore-certificate-errors trusts certificates made at test time.
export const insecure = process.argv.includes('--ignore-certificate-errors');

export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
           '--no-first-run', '--disable-component-update', '--disable-sync',
           ...(insecure ? ['--ignore-certificate-errors'] : [])],
  });
}
