import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { App } from "../App";
import { OVERVIEW, SESSION, stubFetch, unauthorized } from "./fetchStub";

function signInWith(key: string) {
  fireEvent.change(screen.getByLabelText("API key"), { target: { value: key } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
}

describe("sign-in", () => {
  it("exchanges a good key for a session and shows the overview", async () => {
    const calls = stubFetch({
      "GET /api/v1/session": () => unauthorized,
      "POST /api/v1/session": () => ({ status: 201, body: SESSION }),
      "GET /api/v1/overview": () => ({ status: 200, body: OVERVIEW }),
    });
    render(<App />);
    expect((await screen.findByLabelText("API key")).getAttribute("type")).toBe("password");
    signInWith("hrld_good");
    expect(await screen.findByRole("heading", { name: "Overview" })).toBeTruthy();
    expect(await screen.findByText("120")).toBeTruthy();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ api_key: "hrld_good" });
    // The key is not kept by the browser.
    expect(JSON.stringify({ ...localStorage, ...sessionStorage })).not.toContain("hrld_good");
    expect(document.cookie).not.toContain("hrld_good");
  });

  it("shows the server's message for a wrong key and no data", async () => {
    const calls = stubFetch({
      "GET /api/v1/session": () => unauthorized,
      "POST /api/v1/session": () => unauthorized,
    });
    render(<App />);
    await screen.findByLabelText("API key");
    signInWith("hrld_wrong");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("unknown or revoked API key");
    expect(screen.queryByRole("navigation")).toBeNull();
    expect(calls.some((c) => c.url.includes("/overview"))).toBe(false);
  });

  it("goes back to sign-in when any request answers 401", async () => {
    let sessionValid = true;
    stubFetch({
      "GET /api/v1/session": () => ({ status: 200, body: SESSION }),
      "GET /api/v1/overview": () => (sessionValid ? { status: 200, body: OVERVIEW } : unauthorized),
    });
    sessionValid = false;
    render(<App />);
    expect(await screen.findByLabelText("API key")).toBeTruthy();
  });

  it("sends the CSRF token from the session on every write", async () => {
    const calls = stubFetch({
      "GET /api/v1/session": () => ({ status: 200, body: SESSION }),
      "GET /api/v1/overview": () => ({ status: 200, body: OVERVIEW }),
      "DELETE /api/v1/session": () => ({ status: 204 }),
    });
    render(<App />);
    fireEvent.click(await screen.findByRole("button", { name: "Sign out" }));
    expect(await screen.findByLabelText("API key")).toBeTruthy();
    const signOut = calls.find((c) => c.method === "DELETE");
    expect(signOut?.headers["X-CSRF-Token"]).toBe("csrf-123");
    expect(calls.filter((c) => c.method === "GET").every((c) => !("X-CSRF-Token" in c.headers))).toBe(true);
  });
});
