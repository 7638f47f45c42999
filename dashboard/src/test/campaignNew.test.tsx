import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { CampaignNew } from "../screens/CampaignNew";
import { stubFetch } from "./fetchStub";

const customers = [
  { id: 1, phone: "+254712345601", first_name: "Amina", last_name: null, email: null },
  { id: 2, phone: "+254712345602", first_name: "Brian", last_name: null, email: null },
  { id: 3, phone: "+254712345603", first_name: "Chen", last_name: null, email: null },
];

function stubHerald() {
  return stubFetch({
    "GET /api/v1/customers": () => ({ status: 200, body: { data: customers, next_cursor: null } }),
    "POST /campaigns": (call) => ({
      status: 201,
      body: {
        id: 7,
        status: "draft",
        channel: "sms",
        created_at: "",
        updated_at: "",
        scheduled_at: null,
        ...(call.body as object),
      },
    }),
    "POST /campaigns/7/personalized-preview": (call) => {
      const { customer_id } = call.body as { customer_id: number };
      const name = customers.find((c) => c.id === customer_id)!.first_name;
      return {
        status: 200,
        body: {
          rendered_message: `Hello ${name}`,
          used_template: "",
          customer: { id: customer_id, first_name: name },
          length: { characters: 11, encoding: "GSM-7", units: 11, segments: 1 },
        },
      };
    },
    "POST /campaigns/7/send": () => ({
      status: 202,
      body: { campaign_id: 7, messages_queued: 2, status: "sending" },
    }),
  });
}

describe("campaign create", () => {
  it("saves a draft, previews the typed template per customer, and sends to the selected customers", async () => {
    const calls = stubHerald();
    render(<CampaignNew />);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "Launch" } });
    fireEvent.change(screen.getByLabelText("Template"), { target: { value: "Hello {first_name}" } });
    expect(screen.getByTestId("sms-counter").textContent).toContain("GSM-7 · 1 segment");
    fireEvent.click(screen.getByRole("button", { name: "Save draft and preview" }));

    expect(await screen.findByText("Hello Amina", {}, { timeout: 2000 })).toBeTruthy();
    expect(calls.find((c) => c.url === "/campaigns")?.body).toEqual({
      name: "Launch",
      channel: "sms",
      base_template: "Hello {first_name}",
    });
    fireEvent.change(screen.getByLabelText("Customer"), { target: { value: "2" } });
    expect(await screen.findByText("Hello Brian", {}, { timeout: 2000 })).toBeTruthy();
    const preview = calls.filter((c) => c.url.endsWith("/personalized-preview")).at(-1);
    expect(preview?.body).toEqual({ customer_id: 2, override_template: "Hello {first_name}" });

    fireEvent.click(screen.getByLabelText("Selected customers"));
    const list = screen.getByRole("list", { name: "Customers" });
    fireEvent.click(within(list).getByLabelText(/Amina/));
    fireEvent.click(within(list).getByLabelText(/Chen/));
    fireEvent.click(screen.getByRole("button", { name: "Send…" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Send now" }));
    await waitFor(() => expect(window.location.hash).toBe("#/campaigns/7"));
    expect(calls.find((c) => c.url === "/campaigns/7/send")?.body).toEqual({ customer_ids: [1, 3] });
    expect(calls.filter((c) => c.url === "/campaigns")).toHaveLength(1);
  });

  it("sends to all customers by asking herald for every customer, not by listing ids", async () => {
    const calls = stubHerald();
    render(<CampaignNew />);
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "Everyone" } });
    fireEvent.change(screen.getByLabelText("Template"), { target: { value: "Hello {first_name}" } });
    fireEvent.click(screen.getByRole("button", { name: "Save draft and preview" }));
    expect(await screen.findByText("Hello Amina", {}, { timeout: 2000 })).toBeTruthy();
    fireEvent.click(screen.getByLabelText("All customers"));
    fireEvent.click(screen.getByRole("button", { name: "Send…" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Send now" }));
    await waitFor(() => expect(window.location.hash).toBe("#/campaigns/7"));
    expect(calls.find((c) => c.url === "/campaigns/7/send")?.body).toEqual({ all_customers: true });
  });
});
