//! `portico generate --staff N --patient-users M`: the people of a clinic-sized demo. Staff get synthetic
//! names from fixed lists (no network, the same names on every run), roles spread the way a clinic has them
//! and one or two practices; patient users are linked one-to-one to Patient resources. Every name is a pure
//! function of its index or its patient, so a second run finds the accounts of the first and adds nothing.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context, Result};
use portico_domain::{hash_password, PatientId, PracticeId, Role, Username};
use portico_server::demo;
use portico_store::{NewUser, PatientLink, StoreError};

use crate::database::{DbLocation, Opened};

use crate::data::bar;

const GIVEN: &[&str] = &[
    "Aaliyah",
    "Amir",
    "Ana",
    "Anders",
    "Aroha",
    "Beatriz",
    "Bilal",
    "Camille",
    "Chen",
    "Dara",
    "Diego",
    "Elif",
    "Emeka",
    "Esther",
    "Fatima",
    "Felix",
    "Grace",
    "Hamza",
    "Ingrid",
    "Isaac",
    "Jamal",
    "Joanna",
    "Kai",
    "Kavya",
    "Leila",
    "Lucas",
    "Maeve",
    "Malik",
    "Marta",
    "Mei",
    "Nadia",
    "Nikolai",
    "Olga",
    "Oscar",
    "Priya",
    "Rafael",
    "Sakura",
    "Samuel",
    "Tariq",
    "Tomás",
    "Valentina",
    "Wanjiru",
    "Yusuf",
    "Zara",
];

const FAMILY: &[&str] = &[
    "Adeyemi",
    "Andersson",
    "Bauer",
    "Bianchi",
    "Castillo",
    "Chowdhury",
    "Costa",
    "Dimitrov",
    "Dubois",
    "Evans",
    "Fernández",
    "Fischer",
    "Gallagher",
    "Haddad",
    "Hansen",
    "Hernández",
    "Ivanova",
    "Jovanović",
    "Kaur",
    "Kim",
    "Kowalczyk",
    "Larsen",
    "Lefèvre",
    "Mahlangu",
    "Martins",
    "Müller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "O'Brien",
    "Okonkwo",
    "Patel",
    "Popescu",
    "Quispe",
    "Reyes",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Van Dijk",
    "Wójcik",
    "Yamamoto",
    "Zhang",
];

/// Staff index → a spread like a clinic's: one administrator in forty, then providers 4, nurses 3, front desk 2
/// and developers 1 in every ten.
pub fn staff_role(i: usize) -> Role {
    if i.is_multiple_of(40) {
        return Role::Administrator;
    }
    match i % 10 {
        0 | 1 | 4 | 7 => Role::Provider,
        2 | 5 | 8 => Role::Nurse,
        3 | 6 => Role::FrontDesk,
        _ => Role::Developer,
    }
}

/// Staff index → (display name, username). Walking the name grid with a step coprime to its size visits
/// every combination once before any repeats, so neighbours differ in both names; past the grid's size a
/// round number keeps usernames unique.
pub fn staff_name(i: usize) -> (String, String) {
    let grid = GIVEN.len() * FAMILY.len();
    // 1009 is prime and larger than either list, so it shares no factor with the grid's size.
    let cell = (i * 1009) % grid;
    let (given, family) = (GIVEN[cell % GIVEN.len()], FAMILY[cell / GIVEN.len()]);
    let round = i / grid;
    let mut username = format!("{}.{}", ascii_login(given), ascii_login(family));
    if round > 0 {
        username.push_str(&(round + 1).to_string());
    }
    (format!("{given} {family}"), username)
}

/// A patient user's username: their name folded to a login, and the start of the Patient id, which keeps two
/// patients of the same name apart and ties the account to its record.
pub fn patient_username(p: &PatientLink) -> String {
    let name: Vec<String> = p.name.split_whitespace().map(ascii_login).filter(|s| !s.is_empty()).collect();
    let id: String = ascii_login(&p.id.0).chars().take(8).collect();
    let mut username = if name.is_empty() { format!("patient.{id}") } else { format!("{}.{id}", name.join(".")) };
    // Usernames are at most 64 bytes; the id part is the one that must survive, so the name gives way.
    if username.len() > 64 {
        let keep = 64 - id.len() - 1;
        username = format!("{}.{id}", username[..keep].trim_end_matches('.'));
    }
    username
}

/// Lowercase ASCII letters and digits only: Latin letters lose their accents, anything else is dropped.
fn ascii_login(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' => Some('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => Some('o'),
            'ú' | 'ù' | 'û' | 'ü' => Some('u'),
            'ñ' | 'ń' => Some('n'),
            'ç' | 'ć' => Some('c'),
            'ś' | 'š' => Some('s'),
            'ź' | 'ż' | 'ž' => Some('z'),
            'ł' => Some('l'),
            'ý' | 'ÿ' => Some('y'),
            _ => None,
        })
        .collect()
}

/// One account to create.
struct Planned {
    username: String,
    display_name: String,
    roles: Vec<Role>,
    practices: Vec<PracticeId>,
    patient: Option<PatientId>,
}

#[derive(Default)]
struct Plan {
    staff: Vec<Planned>,
    patients: Vec<Planned>,
    /// Accounts a previous run made (same username).
    existing: usize,
    /// Patient users still wanted after every eligible Patient was used.
    shortfall: usize,
}

/// Staff `0..staff` and the first `patient_users` Patients (by id) that no other account is linked to;
/// accounts that exist already count towards the numbers and are skipped.
fn plan(opened: &Opened, staff: usize, patient_users: usize) -> Result<Plan> {
    let store = opened.reader();
    let practices: Vec<PracticeId> = store.practices()?.into_iter().map(|(id, _)| id).collect();
    let mut plan = Plan::default();
    let mut taken = BTreeSet::new();
    for i in 0..staff {
        let (display_name, username) = staff_name(i);
        if store.user_by_username(&username)?.is_some() {
            plan.existing += 1;
            continue;
        }
        let role = staff_role(i);
        let display_name = if role == Role::Provider { format!("Dr. {display_name}") } else { display_name };
        // Everyone works at one practice, round-robin; every third person at the next one too.
        let mut member_of = Vec::new();
        if let Some(first) = practices.get(i % practices.len().max(1)) {
            member_of.push(*first);
            if i.is_multiple_of(3) && practices.len() > 1 {
                member_of.push(practices[(i + 1) % practices.len()]);
            }
        }
        taken.insert(username.clone());
        plan.staff.push(Planned { username, display_name, roles: vec![role], practices: member_of, patient: None });
    }
    let mut found = 0;
    for p in opened.patient_links()? {
        if found == patient_users {
            break;
        }
        let username = patient_username(&p);
        if Username::parse(&username).is_none() || taken.contains(&username) {
            continue;
        }
        match store.user_by_username(&username)? {
            Some(u) if u.patient.as_ref() == Some(&p.id) => {
                plan.existing += 1;
                found += 1;
            }
            // The name belongs to someone else, or the patient has an account already: not this patient.
            Some(_) => {}
            None if p.users > 0 => {}
            None => {
                taken.insert(username.clone());
                // A patient's own account reaches the record through the patient's practices, not memberships.
                plan.patients.push(Planned {
                    username,
                    display_name: p.name.clone(),
                    roles: vec![Role::Patient],
                    practices: Vec::new(),
                    patient: Some(p.id.clone()),
                });
                found += 1;
            }
        }
    }
    plan.shortfall = patient_users - found;
    Ok(plan)
}

pub struct People {
    pub staff: usize,
    pub patient_users: usize,
    pub password: Option<String>,
}

pub fn generate(db: &DbLocation, want: People) -> Result<()> {
    let open = || -> Result<Opened> {
        let opened = Opened::open(db)?;
        opened.tune_for_bulk_load()?;
        Ok(opened)
    };
    let mut opened = open()?;
    if opened.reader().practices()?.is_empty() {
        for name in demo::PRACTICES {
            opened.store().create_practice(name)?;
        }
        opened.commit_so_far()?;
    }
    let mut plan = plan(&opened, want.staff, want.patient_users)?;
    if plan.shortfall > 0 {
        println!(
            "Only {} Patient records can take a new account; generating {} more patients so each patient user has a \
             record of their own.",
            want.patient_users - plan.shortfall,
            plan.shortfall
        );
        drop(opened);
        crate::data::generate(db, plan.shortfall)?;
        opened = open()?;
        plan = self::plan(&opened, want.staff, want.patient_users)?;
    }
    // The rate is of making accounts: generating missing patients has its own summary line.
    let started = Instant::now();
    let (staff, patients) = (plan.staff.len(), plan.patients.len());
    if staff + patients == 0 {
        println!("Nothing to add: all {} requested accounts exist already.", plan.existing);
        return Ok(());
    }
    let (password, chosen) = match want.password {
        Some(p) => (p, true),
        None => (random_password(), false),
    };
    // One Argon2 hash for every account: hashing 5,000 passwords one by one would take minutes, and these
    // accounts share their password anyway.
    let hash = hash_password(&password, &mut rand::rngs::OsRng).context("the password must be 8 to 256 characters")?;
    let pb = bar((staff + patients) as u64, "accounts");
    let now = chrono::Utc::now();
    let all: Vec<&Planned> = plan.staff.iter().chain(&plan.patients).collect();
    // One transaction: a run that fails part-way leaves no half-made set of accounts behind.
    opened.store().atomically(|s| -> Result<(), StoreError> {
        for (i, p) in all.iter().enumerate() {
            s.create_user(
                &NewUser {
                    username: &p.username,
                    display_name: &p.display_name,
                    password_hash: &hash,
                    roles: &p.roles,
                    practices: &p.practices,
                    patient: p.patient.as_ref(),
                },
                now,
            )?;
            if (i + 1).is_multiple_of(100) {
                pb.inc(100);
            }
        }
        Ok(())
    })?;
    opened.finish()?;
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "Added {staff} staff and {patients} patient users ({} accounts, {} existed already) in {secs:.2} s: {:.0} accounts/s",
        staff + patients,
        plan.existing,
        (staff + patients) as f64 / secs.max(0.001)
    );
    if chosen {
        println!("Every new account has the password you gave.");
    } else {
        println!("Password of every new account: {password}");
    }
    Ok(())
}

/// 96 random bits, readable: these accounts exist for demos, but one reachable over a network should not fall
/// to a guess.
fn random_password() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_spread_like_a_clinic() {
        let mut counts = std::collections::BTreeMap::new();
        for i in 0..200 {
            *counts.entry(staff_role(i).as_str()).or_insert(0) += 1;
        }
        let n = |r: Role| counts.get(r.as_str()).copied().unwrap_or(0);
        assert_eq!(n(Role::Administrator), 5);
        assert!(n(Role::Provider) > n(Role::FrontDesk) && n(Role::Nurse) > n(Role::FrontDesk), "{counts:?}");
        assert!(n(Role::Developer) > 0 && n(Role::FrontDesk) > 0, "{counts:?}");
        assert_eq!(counts.values().sum::<i32>(), 200);
    }

    #[test]
    fn staff_names_are_unique_valid_and_stable() {
        let grid = GIVEN.len() * FAMILY.len();
        let names: Vec<(String, String)> = (0..grid + 50).map(staff_name).collect();
        let usernames: BTreeSet<&str> = names.iter().map(|(_, u)| u.as_str()).collect();
        assert_eq!(usernames.len(), names.len(), "every username differs");
        for (_, u) in &names {
            assert!(Username::parse(u).is_some(), "{u}");
        }
        assert_eq!(staff_name(7), staff_name(7));
        // Neighbours differ in both names.
        let (a, b) = (&names[0].0, &names[1].0);
        assert!(a.split(' ').zip(b.split(' ')).all(|(x, y)| x != y), "{a} / {b}");
    }

    #[test]
    fn patient_usernames() {
        let link =
            |id: &str, name: &str| PatientLink { id: PatientId(id.into()), name: name.into(), practices: vec![], users: 0 };
        for (id, name, want) in [
            ("76d2fa2d-66a6-4823", "Reyna401 Ziemann98", "reyna401.ziemann98.76d2fa2d"),
            ("abc", "José O'Connor-Núñez", "jose.oconnornunez.abc"),
            ("Z9", "", "patient.z9"),
            ("0123456789", &"Long ".repeat(20), "long.long.long.long.long.long.long.long.long.long.long.01234567"),
        ] {
            let u = patient_username(&link(id, name));
            assert_eq!(u, want);
            assert!(Username::parse(&u).is_some(), "{u}");
        }
    }
}
