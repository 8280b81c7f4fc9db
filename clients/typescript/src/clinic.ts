// A practice system's integration, written against the client generated from the API's
// OpenAPI document: its own token (client_credentials), its patients, assigning a program,
// subscribing a webhook, and a receiver typed by the document's `webhooks` section.
// Type-checked, never run: if the document stops describing any of it, `tsc` fails here.

import { ApiProblem, api as mobileApi, assertNever, formBody } from "./flows";
import type { components, webhooks } from "./schema";

type Schemas = components["schemas"];

const BASE_URL = "https://rehab.example.com";

function api(accessToken?: string) {
  return mobileApi(accessToken, BASE_URL);
}

/** The practice system's own token: the clinic's API client, with the scopes it was given. */
export async function clientToken(clientId: string, clientSecret: string): Promise<string> {
  const { data, error } = await api().POST("/v1/auth/token", {
    body: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
    bodySerializer: formBody,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (error) throw new ApiProblem(error);
  return data.access_token;
}

/** Patients on a pain hold, with what the clinic may see of their latest pain. */
export async function patientsOnHold(token: string, clinicId: number): Promise<string[]> {
  const { data, error } = await api(token).GET("/v1/clinics/{clinic_id}/patients", {
    params: { path: { clinic_id: clinicId }, query: { flag: "pain_hold", limit: 100 } },
  });
  if (error) throw new ApiProblem(error);
  return data.items.map(
    (patient) =>
      `${patient.display_name}: ${patient.sessions_last_7_days} sessions this week, ` +
      `pain ${patient.latest_pain?.value ?? "not reported"}`,
  );
}

export async function assignProgram(
  token: string,
  clinicId: number,
  patientId: number,
  program: string,
): Promise<Schemas["EnrollmentDetail"]> {
  const { data, error } = await api(token).POST(
    "/v1/clinics/{clinic_id}/patients/{patient_id}/enrollments",
    { params: { path: { clinic_id: clinicId, patient_id: patientId } }, body: { program } },
  );
  if (error) throw new ApiProblem(error);
  return data;
}

/** Subscribe to every event; the secret comes back once, to verify deliveries with. */
export async function subscribe(token: string, clinicId: number, url: string): Promise<string> {
  const { data, error } = await api(token).POST("/v1/clinics/{clinic_id}/webhooks", {
    params: { path: { clinic_id: clinicId } },
    body: {
      url,
      event_types: [
        "session.logged",
        "pain.reported",
        "stage.advanced",
        "link.created",
        "link.revoked",
        "program.assigned",
        "patient.deleted",
      ],
    },
  });
  if (error) throw new ApiProblem(error);
  return data.secret;
}

// ---------------------------------------------------------------------------
// The receiver: each delivery's body, typed from the `webhooks` section

type Delivered<Name extends keyof webhooks> = NonNullable<
  webhooks[Name]["post"]["requestBody"]
>["content"]["application/json"];

export type WebhookEvent =
  | Delivered<"session.logged">
  | Delivered<"pain.reported">
  | Delivered<"stage.advanced">
  | Delivered<"link.created">
  | Delivered<"link.revoked">
  | Delivered<"program.assigned">
  | Delivered<"patient.deleted">
  | Delivered<"webhook.ping">;

/** What the practice system files for a verified delivery (verify it first with a
 * Standard Webhooks library; the body is then parsed as a `WebhookEvent`). */
export function fileEvent(event: WebhookEvent): string {
  switch (event.type) {
    case "session.logged":
      return `patient ${event.data.patient_id} logged ${event.data.entries} exercises, worst pain ${event.data.worst_pain}`;
    case "pain.reported":
      return `patient ${event.data.patient_id} reported pain ${event.data.pain} (limit ${event.data.max_pain})`;
    case "stage.advanced":
      return `patient ${event.data.patient_id} moved to stage ${event.data.to_stage} (${event.data.by})`;
    case "program.assigned":
      return `patient ${event.data.patient_id} was assigned ${event.data.program}`;
    case "link.created":
    case "link.revoked":
    case "patient.deleted":
      return `${event.type}: patient ${event.data.patient_id}`;
    case "webhook.ping":
      return `ping ${event.id} for clinic ${event.clinic_id}`;
    default:
      return assertNever(event);
  }
}
