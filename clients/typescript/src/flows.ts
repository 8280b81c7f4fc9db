// The main flows of the mobile app, written against the client generated from the API's
// OpenAPI document. It is type-checked, never run: if the document stops describing what
// the app relies on (a field renamed, a union that no longer narrows), `tsc` fails here.

import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema";

type Schemas = components["schemas"];
type Api = Client<paths>;
type Exercise = Schemas["ExerciseLocked"] | Schemas["ExerciseUnlocked"];
type SessionChange = Schemas["SessionFeed"]["items"][number];
type Problem = Schemas["Problem"] | Schemas["ValidationProblem"];

export const BASE_URL = "http://127.0.0.1:8000";

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.title}: ${problem.detail ?? ""}`);
  }
}

export function api(accessToken?: string, baseUrl: string = BASE_URL): Api {
  const headers: Record<string, string> = {};
  if (accessToken !== undefined) {
    headers.Authorization = `Bearer ${accessToken}`;
  }
  return createClient<paths>({ baseUrl, headers });
}

/** The OAuth2 token endpoint takes form fields, not JSON. */
export function formBody(fields: Schemas["Body_issue_token"]): URLSearchParams {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === "string") {
      form.set(name, value);
    }
  }
  return form;
}

export function assertNever(value: never): never {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
}

// ---------------------------------------------------------------------------
// Accounts

export async function register(email: string, password: string): Promise<Schemas["UserOut"]> {
  const { data, error } = await api().POST("/v1/auth/register", {
    body: { email, password, display_name: email.split("@")[0] ?? email },
  });
  if (error) throw new ApiProblem(error);
  return data;
}

export async function signIn(email: string, password: string): Promise<Schemas["TokenOut"]> {
  const { data, error } = await api().POST("/v1/auth/token", {
    body: { grant_type: "password", username: email, password },
    bodySerializer: formBody,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (error) throw new ApiProblem(error);
  return data;
}

export async function refresh(refreshToken: string): Promise<Schemas["TokenOut"]> {
  const { data, error } = await api().POST("/v1/auth/token", {
    body: { grant_type: "refresh_token", refresh_token: refreshToken },
    bodySerializer: formBody,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (error) throw new ApiProblem(error);
  return data;
}

// ---------------------------------------------------------------------------
// Reading a program: every exercise is either locked (a teaser) or unlocked

/** What the exercise card shows; the premium keys exist only on an unlocked exercise. */
export function exerciseCard(exercise: Exercise): string {
  switch (exercise.access) {
    case "unlocked": {
      const video = exercise.video ? ` (video until ${exercise.video.expires_at})` : "";
      return `${exercise.name}${video}: ${exercise.instructions.join(" ")}`;
    }
    case "locked":
      // @ts-expect-error A locked exercise has no video: the premium keys are not in its type.
      void exercise.video;
      return `${exercise.name} is locked (${exercise.lock.reason}): ${exercise.lock.unlock_hint}`;
    default:
      return assertNever(exercise);
  }
}

export async function readProgram(token: string, slug: string): Promise<string[]> {
  const { data, error } = await api(token).GET("/v1/programs/{slug}", {
    params: { path: { slug } },
  });
  if (error) throw new ApiProblem(error);
  return data.stages.flatMap((stage) =>
    stage.exercises.map((item) => `${stage.name} #${item.position}: ${exerciseCard(item.exercise)}`),
  );
}

export async function searchExercises(query: string): Promise<Exercise[]> {
  const { data, error } = await api().GET("/v1/exercises", {
    params: { query: { q: query, limit: 20 } },
  });
  if (error) throw new ApiProblem(error);
  return data.items;
}

// ---------------------------------------------------------------------------
// Following a program: enroll, log sessions (retry-safe by client id), advance

export async function enroll(token: string, program: string): Promise<Schemas["EnrollmentOut"]> {
  const { data, error } = await api(token).POST("/v1/me/enrollments", { body: { program } });
  if (error) throw new ApiProblem(error);
  return data;
}

export async function logSession(
  token: string,
  program: string,
  stage: number,
  entries: Schemas["EntryIn"][],
): Promise<{ session: Schemas["SessionOut"]; created: boolean }> {
  const sessionId = crypto.randomUUID();
  const { data, error, response } = await api(token).PUT("/v1/me/sessions/{session_id}", {
    params: { path: { session_id: sessionId } },
    body: { program, stage, performed_at: new Date().toISOString(), entries },
  });
  if (error) throw new ApiProblem(error);
  // 201 the first time, 200 when a retry sends the same id again.
  return { session: data, created: response.status === 201 };
}

export async function tryToAdvance(token: string, program: string): Promise<string> {
  const { data, error, response } = await api(token).POST(
    "/v1/me/enrollments/{program}/advance",
    { params: { path: { program } } },
  );
  if (data) {
    return `Now at ${data.current_stage.name} (stage ${data.current_stage.position})`;
  }
  if (response.status === 409 && error) {
    return `Not yet: ${error.detail ?? error.title}`;
  }
  throw new ApiProblem(error);
}

export async function enrollmentHint(token: string, program: string): Promise<string> {
  const { data, error } = await api(token).GET("/v1/me/enrollments/{program}", {
    params: { path: { program } },
  });
  if (error) throw new ApiProblem(error);
  const evaluation = data.evaluation;
  if (evaluation === null) return "Program completed";
  const unmet = evaluation.criteria.filter((criterion) => !criterion.met);
  return [evaluation.hint, ...unmet.map((criterion) => criterion.summary)].join("\n");
}

export async function progress(token: string): Promise<string[]> {
  const { data, error } = await api(token).GET("/v1/me/progress", {
    params: { query: { tz: "Europe/London" } },
  });
  if (error) throw new ApiProblem(error);
  return data.programs.map(
    (program) =>
      `${program.program_name}: ${program.sessions_last_7_days}/` +
      `${program.prescribed_sessions_per_week} this week, streak ${program.streak_days}` +
      (program.pain_hold ? ", on hold for pain" : ""),
  );
}

// ---------------------------------------------------------------------------
// Offline phones: batch sync, then catch up with the change feed

export async function syncOffline(
  token: string,
  pending: Schemas["SyncItem"][],
): Promise<string[]> {
  const { data, error } = await api(token).POST("/v1/me/sessions/sync", {
    body: { sessions: pending },
  });
  if (error) throw new ApiProblem(error);
  return data.results
    .filter((result) => result.status === "rejected")
    .map((result) => `${result.id}: ${result.detail ?? "rejected"}`);
}

/** Applies one change from the feed to the phone's store; `deleted` narrows the union. */
export function applyChange(
  store: Map<string, Schemas["SessionOut"]>,
  change: SessionChange,
): void {
  if (change.deleted) {
    store.delete(change.id);
    void change.deleted_at;
  } else {
    store.set(change.id, change);
    void change.entries.length;
  }
}

export async function catchUp(
  token: string,
  store: Map<string, Schemas["SessionOut"]>,
  since?: string,
): Promise<string> {
  let cursor = since;
  for (;;) {
    const { data, error } = await api(token).GET("/v1/me/sessions", {
      params: { query: cursor === undefined ? {} : { since: cursor } },
    });
    if (error) throw new ApiProblem(error);
    data.items.forEach((change) => applyChange(store, change));
    cursor = data.next_cursor;
    if (!data.has_more) return cursor;
  }
}

// ---------------------------------------------------------------------------
// Clinics: a patient consents with a code; the clinician sees who needs attention

export async function linkClinic(token: string, code: string): Promise<Schemas["LinkOut"]> {
  const { data, error } = await api(token).POST("/v1/me/clinic-links", { body: { code } });
  if (error) throw new ApiProblem(error);
  return data;
}

export async function patientsOnPainHold(token: string, clinicId: number): Promise<string[]> {
  const { data, error } = await api(token).GET("/v1/clinics/{clinic_id}/patients", {
    params: { path: { clinic_id: clinicId }, query: { flag: "pain_hold" } },
  });
  if (error) throw new ApiProblem(error);
  return data.items.map(
    (patient) =>
      `${patient.display_name}: pain ${patient.latest_pain?.value ?? "not reported"}, ` +
      `${patient.sessions_last_7_days} session(s) this week`,
  );
}

/** The practice system: its own credentials, a 15-minute token, then clinic routes only. */
export async function practiceSystemAssigns(
  ownerToken: string,
  clinicId: number,
  patientId: number,
  program: string,
): Promise<Schemas["EnrollmentOut"]> {
  const created = await api(ownerToken).POST("/v1/clinics/{clinic_id}/api-clients", {
    params: { path: { clinic_id: clinicId } },
    body: { name: "Practice system", scopes: ["patients:read", "programs:write"] },
  });
  if (created.error) throw new ApiProblem(created.error);
  const { client_id, client_secret } = created.data;

  const token = await api().POST("/v1/auth/token", {
    body: { grant_type: "client_credentials", client_id, client_secret },
    bodySerializer: formBody,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (token.error) throw new ApiProblem(token.error);

  const assigned = await api(token.data.access_token).POST(
    "/v1/clinics/{clinic_id}/patients/{patient_id}/enrollments",
    { params: { path: { clinic_id: clinicId, patient_id: patientId } }, body: { program } },
  );
  if (assigned.error) throw new ApiProblem(assigned.error);
  return assigned.data;
}

// ---------------------------------------------------------------------------
// The whole journey

export async function journey(email: string, password: string): Promise<void> {
  await register(email, password);
  const tokens = await signIn(email, password);
  const token = tokens.access_token;
  const program = "whole-leg-rehabilitation";
  const cards = await readProgram(token, program);
  const enrollment = await enroll(token, program);
  const logged = await logSession(token, program, enrollment.current_stage.position, [
    { exercise: "glute-bridge", sets_done: 2, reps_done: 12, difficulty: "easy", pain: 1 },
  ]);
  const advance = await tryToAdvance(token, program);
  const summary = await progress(token);
  console.log([...cards, `logged ${logged.session.id}`, advance, ...summary].join("\n"));
  if (tokens.refresh_token) {
    await refresh(tokens.refresh_token);
  }
}
