// A real browser on Portico's authorization pages, and the redirect it ends on.
//
// Debian's chromium and its matching chromedriver through selenium-webdriver
// (the driver path is given, so Selenium Manager never downloads one). A test
// builds the authorization URL with its own OAuth library, passes it to
// authorize(), and gets back the URL the server redirected to, as the app's
// redirect endpoint sees it: a one-shot HTTP listener on 127.0.0.1:<free port>
// stands in for the app (Portico matches loopback redirect URIs on any port,
// RFC 8252 §7.3, so apps register http://127.0.0.1/callback).
//
//   CHROMIUM, CHROMEDRIVER  override /usr/bin/chromium and /usr/bin/chromedriver

import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { once } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import { Builder, By, until } from "selenium-webdriver";
import chrome from "selenium-webdriver/chrome.js";

export const REGISTERED_REDIRECT = "http://127.0.0.1/callback";
const PAGE_TIMEOUT_MS = 30_000;
const HEADLESS_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--window-size=1100,1400",
];

/** A one-shot redirect endpoint: `uri` to send as redirect_uri, `received` resolves to the full URL. */
export async function callback() {
  let resolve;
  const received = new Promise((r) => (resolve = r));
  const server = createServer((req, res) => {
    resolve(`http://127.0.0.1:${server.address().port}${req.url}`);
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<!doctype html><title>callback</title><p id=done>received</p>");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    uri: `http://127.0.0.1:${port}/callback`,
    received,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** One headless chromium with a fresh profile; quit() when done. */
export async function startBrowser() {
  const profile = await mkdtemp(path.join(tmpdir(), "portico-npm-chromium-"));
  const options = new chrome.Options().setChromeBinaryPath(process.env.CHROMIUM || "/usr/bin/chromium");
  options.addArguments(...HEADLESS_FLAGS, `--user-data-dir=${profile}`);
  const service = new chrome.ServiceBuilder(process.env.CHROMEDRIVER || "/usr/bin/chromedriver");
  const driver = await new Builder().forBrowser("chrome").setChromeOptions(options).setChromeService(service).build();

  async function waitFor(locator, what) {
    try {
      return await driver.wait(until.elementLocated(locator), PAGE_TIMEOUT_MS);
    } catch (err) {
      const at = await driver.getCurrentUrl();
      const html = (await driver.getPageSource()).slice(0, 3000);
      throw new Error(`browser: ${what} did not appear within ${PAGE_TIMEOUT_MS} ms; at ${at}:\n${html}`, { cause: err });
    }
  }

  /**
   * Sign in (always: every cookie is dropped first), untick the given scopes,
   * press Allow (or Deny); resolves to the URL the server redirected to.
   */
  async function authorize(url, cb, { username = "patient", password = "portico-demo", untick = [], action = "allow" } = {}) {
    // WebDriver's delete-all-cookies reaches only the current page's cookies (the callback,
    // not /oauth): clear the whole jar through the DevTools protocol.
    await driver.sendDevToolsCommand("Network.clearBrowserCookies", {});
    await driver.get(url);
    await (await waitFor(By.id("username"), "the sign-in page")).sendKeys(username);
    await driver.findElement(By.id("password")).sendKeys(password);
    await driver.findElement(By.css("button[name=action][value=sign_in]")).click();
    await waitFor(By.css("button[name=action][value=allow]"), "the consent page after sign-in");
    for (const scope of untick) {
      const box = await driver.findElement(By.css(`input[type=checkbox][name=scope][value='${scope}']`));
      if (!(await box.isSelected())) throw new Error(`consent page: ${scope} was not ticked to start with`);
      await box.click();
    }
    await driver.findElement(By.css(`button[name=action][value=${action}]`)).click();
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`browser: no redirect reached ${cb.uri} after pressing ${action}`)), PAGE_TIMEOUT_MS);
    });
    try {
      return await Promise.race([cb.received, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function quit() {
    try {
      await driver.quit();
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }

  return { driver, authorize, quit };
}
