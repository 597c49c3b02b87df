import "./styles.css";
import * as api from "./api";
import { startApp } from "./app";
import { installTextSize } from "./textSize";

async function boot() {
  if (import.meta.env.MODE === "mock") {
    // Dev-only stand-in for the Rust shell; this branch is removed from production builds.
    const mock = await import("./dev-mock");
    mock.install(api.setInvoke);
  }
  installTextSize();
  await startApp(document.getElementById("app")!);
}

void boot();
