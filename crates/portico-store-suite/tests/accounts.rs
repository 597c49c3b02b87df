//! Practices, users, roles, memberships and sessions, on every backend; users' pages answered alike by all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use portico_domain::{Digest, PatientId, PracticeId, Role, UserId};
use portico_fhir::search::fold;
use portico_store::{NewUser, ReadStore, StoreError, UserListing, UserSort};
use portico_store_suite::{backends, Fresh};

const GIVEN: [&str; 8] = ["Ana", "Bilal", "Ángel", "Chen", "Émile", "Dara", "Zoë", "Fatima"];
const FAMILY: [&str; 6] = ["Adeyemi", "Müller", "O'Brien", "Nguyen", "Fernández", "Kowalczyk"];

fn user<'a>(username: &'a str, roles: &'a [Role], practices: &'a [PracticeId]) -> NewUser<'a> {
    NewUser { username, display_name: username, password_hash: "hash", roles, practices, patient: None }
}

/// A clinic: 60 staff across two practices (administrator 0 in practice 1), 600 patient users split between
/// them, 10 accounts that belong nowhere yet; every third staff member has signed in.
fn clinic(b: &Fresh) {
    b.write_ok(|s| {
        let (p1, p2) = (s.create_practice("One")?, s.create_practice("Two")?);
        let now = Utc::now();
        for i in 0..670usize {
            let name = format!("{} {} {i}", GIVEN[i % GIVEN.len()], FAMILY[(i / GIVEN.len()) % FAMILY.len()]);
            let (username, roles, practices, patient) = match i {
                0..60 => {
                    let role = if i == 0 { Role::Administrator } else { [Role::Provider, Role::Nurse, Role::FrontDesk][i % 3] };
                    (format!("staff{i:03}"), vec![role], vec![if i % 2 == 0 { p1 } else { p2 }], None)
                }
                60..660 => {
                    let pid = PatientId(format!("pat-{i}"));
                    s.assign_patient(&pid, if i % 2 == 0 { p1 } else { p2 })?;
                    (format!("patient{i:03}"), vec![Role::Patient], vec![], Some(pid))
                }
                _ => (format!("new{i}"), vec![Role::AppDeveloper], vec![], None),
            };
            let u = NewUser {
                username: &username,
                display_name: &name,
                password_hash: "x",
                roles: &roles,
                practices: &practices,
                patient: patient.as_ref(),
            };
            let id = s.create_user(&u, now + Duration::seconds(i as i64))?;
            if i < 60 && i % 3 == 0 {
                s.record_sign_in(id, now + Duration::minutes(i as i64))?;
            }
        }
        Ok(())
    })
    .unwrap();
}

fn listing(visible_to: &[PracticeId]) -> UserListing<'_> {
    UserListing {
        visible_to,
        search: None,
        role: None,
        practice: None,
        sort: UserSort::Name,
        descending: false,
        offset: 0,
        limit: 25,
    }
}

#[test]
fn practices_are_unique_by_name_and_listed_in_creation_order() {
    for b in backends() {
        let (one, two) = b.write_ok(|s| Ok((s.create_practice("Riverside")?, s.create_practice("Hillcrest")?))).unwrap();
        let again = b.write_ok(|s| s.create_practice("Riverside"));
        assert!(
            matches!(again, Err(StoreError::Conflict(ref m)) if m == "a practice with this name exists"),
            "{}: {again:?}",
            b.name
        );
        b.read(|s| {
            assert_eq!(s.practices().unwrap(), vec![(one, "Riverside".into()), (two, "Hillcrest".into())], "{}", b.name);
            assert_eq!(s.practice_by_name("Hillcrest").unwrap(), Some(two), "{}", b.name);
            assert_eq!(s.practice_by_name("hillcrest").unwrap(), None, "{}: names are exact", b.name);
        });
        // A patient joins practices once each, listed in order.
        let pid = PatientId("p1".into());
        let p = pid.clone();
        b.write_ok(move |s| {
            s.assign_patient(&p, two)?;
            s.assign_patient(&p, one)?;
            s.assign_patient(&p, two)
        })
        .unwrap();
        assert_eq!(b.read(|s| s.patient_practices(&pid).unwrap()), vec![one, two], "{}", b.name);
    }
}

#[test]
fn users_keep_their_roles_memberships_and_sign_ins() {
    for b in backends() {
        let now = Utc::now();
        let (p1, p2, id) = b
            .write_ok(move |s| {
                let (p1, p2) = (s.create_practice("One")?, s.create_practice("Two")?);
                let id = s.create_user(&user("ada", &[Role::Provider, Role::Administrator], &[p2, p1]), now)?;
                Ok((p1, p2, id))
            })
            .unwrap();
        let taken = b.write_ok(move |s| s.create_user(&user("ada", &[], &[]), now));
        assert!(matches!(taken, Err(StoreError::Conflict(ref m)) if m == "that username is taken"), "{}: {taken:?}", b.name);
        let ada = b.read(|s| s.user_by_username("ada").unwrap().unwrap());
        assert_eq!(
            (ada.id, ada.roles.clone(), ada.practices.clone()),
            (id, vec![Role::Administrator, Role::Provider], vec![p1, p2]),
            "{}",
            b.name
        );
        assert_eq!((ada.created_at.timestamp(), ada.last_sign_in_at), (now.timestamp(), None), "{}", b.name);

        // Each change, and what it does to a user who does not exist.
        let later = now + Duration::minutes(5);
        b.write_ok(move |s| {
            assert!(s.set_password_hash("ada", "new")?);
            assert!(!s.set_password_hash("nobody", "new")?);
            s.set_roles(id, &[Role::Nurse])?;
            s.set_practices(id, &[p2])?;
            s.record_sign_in(id, later)
        })
        .unwrap();
        let missing = UserId(id.0 + 1000);
        let refusals = b
            .write_ok(move |s| {
                Ok([
                    s.set_roles(missing, &[Role::Nurse]).err(),
                    s.set_practices(missing, &[p1]).err(),
                    s.set_practices(id, &[PracticeId(999)]).err(),
                ])
            })
            .unwrap();
        assert!(matches!(refusals[0], Some(StoreError::NotFound)), "{}: {refusals:?}", b.name);
        assert!(matches!(refusals[1], Some(StoreError::NotFound)), "{}: {refusals:?}", b.name);
        assert!(matches!(refusals[2], Some(StoreError::Conflict(ref m)) if m == "no practice 999"), "{}: {refusals:?}", b.name);
        let ada = b.read(|s| s.user(id).unwrap().unwrap());
        assert_eq!(
            (ada.password_hash.as_str(), ada.roles.clone(), ada.practices.clone(), ada.last_sign_in_at.map(|t| t.timestamp())),
            ("new", vec![Role::Nurse], vec![p2], Some(later.timestamp())),
            "{}: a refused change left the user as it was",
            b.name
        );
        assert!(b.read(|s| s.user(missing).unwrap()).is_none(), "{}", b.name);
    }
}

#[test]
fn users_of_practices_are_members_and_patients_of_them() {
    for b in backends() {
        let now = Utc::now();
        let (p1, p2) = b
            .write_ok(move |s| {
                let (p1, p2) = (s.create_practice("One")?, s.create_practice("Two")?);
                s.create_user(&user("member-one", &[Role::Nurse], &[p1]), now)?;
                s.create_user(&user("member-two", &[Role::Nurse], &[p2]), now)?;
                s.create_user(&user("nowhere", &[Role::AppDeveloper], &[]), now)?;
                let pid = PatientId("pat".into());
                s.assign_patient(&pid, p1)?;
                s.create_user(&NewUser { patient: Some(&pid), ..user("patient-one", &[Role::Patient], &[]) }, now)?;
                Ok((p1, p2))
            })
            .unwrap();
        let names = |ps: Option<Vec<PracticeId>>| -> Vec<String> {
            b.read(|s| s.users(ps.as_deref()).unwrap().into_iter().map(|u| u.username).collect())
        };
        assert_eq!(names(None), ["member-one", "member-two", "nowhere", "patient-one"], "{}", b.name);
        assert_eq!(names(Some(vec![p1])), ["member-one", "patient-one"], "{}", b.name);
        assert_eq!(names(Some(vec![p2, p1])), ["member-one", "member-two", "patient-one"], "{}", b.name);
    }
}

#[test]
fn sessions_live_until_they_expire_or_are_revoked() {
    for b in backends() {
        let now = Utc::now();
        let (live, expired, revoked) = (Digest([1; 32]), Digest([2; 32]), Digest([3; 32]));
        let id = b
            .write_ok(move |s| {
                let id = s.create_user(&user("ada", &[Role::Patient], &[]), now)?;
                s.create_session(&live, id, now, now + Duration::hours(1))?;
                s.create_session(&expired, id, now - Duration::hours(2), now - Duration::seconds(1))?;
                s.create_session(&revoked, id, now, now + Duration::hours(1))?;
                s.revoke_session(&revoked, now)?;
                s.revoke_session(&Digest([9; 32]), now)?; // nothing to revoke: no error
                Ok(id)
            })
            .unwrap();
        let users = b.read(|s| [live, expired, revoked, Digest([9; 32])].map(|d| s.session_user(&d, now).unwrap()));
        assert_eq!(users, [Some(id), None, None, None], "{}", b.name);
        let twice = b.write_ok(move |s| s.create_session(&live, id, now, now + Duration::hours(1)));
        assert!(twice.is_err(), "{}: a digest names one session", b.name);
    }
}

#[test]
fn a_page_of_a_clinic_is_counted_ordered_and_filtered() {
    for b in backends() {
        clinic(&b);
        let mine = [PracticeId(1)];
        b.read(|store| {
            // Practice 1: 30 staff, 300 patient users, and the 10 who belong nowhere.
            let (total, page) = store.users_page(&listing(&mine)).unwrap();
            assert_eq!((total, page.len()), (340, 25), "{}", b.name);
            let folds: Vec<String> = page.iter().map(|u| fold(&u.display_name)).collect();
            assert!(folds.windows(2).all(|w| w[0] <= w[1]), "{}: {folds:?}", b.name);
            assert!(folds[0].starts_with("ana "), "{}: {folds:?}", b.name);
            // Accents and case fold both ways; the page's rows come with their roles and memberships.
            let (total, page) = store.users_page(&UserListing { search: Some("EMILE MÜLLER"), ..listing(&mine) }).unwrap();
            assert!(total > 0 && page.iter().all(|u| u.display_name.starts_with("Émile Müller")), "{}: {total}", b.name);
            let (_, staff) = store.users_page(&UserListing { role: Some(Role::Nurse), ..listing(&mine) }).unwrap();
            assert!(
                !staff.is_empty() && staff.iter().all(|u| u.roles == [Role::Nurse] && u.practices == [PracticeId(1)]),
                "{}",
                b.name
            );
            let (total, _) = store
                .users_page(&UserListing { role: Some(Role::Patient), practice: Some(PracticeId(1)), ..listing(&mine) })
                .unwrap();
            assert_eq!(total, 300, "{}", b.name);
            let (total, _) = store.users_page(&UserListing { search: Some("patient659"), ..listing(&mine) }).unwrap();
            assert_eq!(total, 0, "{}: a patient of practice 2", b.name);
            let (total, _) = store.users_page(&UserListing { search: Some("50%"), ..listing(&mine) }).unwrap();
            assert_eq!(total, 0, "{}: % is a plain character", b.name);
            // Pages are disjoint and ordered across their boundary, both ways.
            for descending in [false, true] {
                let at = |offset| {
                    store.users_page(&UserListing { offset, descending, sort: UserSort::Username, ..listing(&mine) }).unwrap().1
                };
                let (a, c) = (at(0), at(25));
                let (last, next) = (&a.last().unwrap().username, &c.first().unwrap().username);
                assert!(if descending { last > next } else { last < next }, "{}: {last} / {next}", b.name);
            }
            // Never signed in sorts as the oldest, both ways.
            let signed = |descending| {
                store.users_page(&UserListing { sort: UserSort::LastSignIn, descending, limit: 100, ..listing(&mine) }).unwrap().1
            };
            assert!(signed(false)[0].last_sign_in_at.is_none(), "{}", b.name);
            let newest_first = signed(true);
            assert!(newest_first[0].last_sign_in_at.is_some(), "{}", b.name);
            let times: Vec<_> = newest_first.iter().filter_map(|u| u.last_sign_in_at).collect();
            assert!(times.windows(2).all(|w| w[0] >= w[1]), "{}", b.name);
        });
    }
}

/// The same clinic on every backend answers every listing with the same users in the same order.
#[test]
fn every_backend_pages_users_alike() {
    let all = backends();
    assert!(all.len() > 1 || portico_store_suite::postgres_url().is_none(), "PostgreSQL was named but not opened");
    for b in &all {
        clinic(b);
    }
    let mine = [PracticeId(1), PracticeId(2)];
    let cases = [
        listing(&mine),
        UserListing { sort: UserSort::Username, descending: true, offset: 40, ..listing(&mine) },
        UserListing { sort: UserSort::LastSignIn, limit: 100, ..listing(&mine) },
        UserListing { sort: UserSort::Created, descending: true, ..listing(&mine) },
        UserListing { search: Some("nguyen"), limit: 100, ..listing(&mine) },
        UserListing { search: Some("O'BRIEN"), role: Some(Role::Patient), ..listing(&mine) },
        UserListing { practice: Some(PracticeId(2)), sort: UserSort::Name, descending: true, ..listing(&mine) },
    ];
    let answer = |b: &Fresh, l: &UserListing<'_>| {
        b.read(|s: &dyn ReadStore| {
            let (total, page) = s.users_page(l).unwrap();
            (total, page.into_iter().map(|u| u.username).collect::<Vec<_>>())
        })
    };
    for l in &cases {
        let first = answer(&all[0], l);
        assert!(first.0 > 0, "{l:?}");
        for b in &all[1..] {
            assert_eq!(answer(b, l), first, "{} vs {}: {l:?}", b.name, all[0].name);
        }
    }
}

/// Two administrators set the same user's roles at the same moment: the user ends with one list or the
/// other, never a mix of both.
#[test]
fn concurrent_role_changes_leave_one_of_the_lists() {
    for b in backends() {
        let id = b.write_ok(|s| s.create_user(&user("ada", &[Role::Patient], &[]), Utc::now())).unwrap();
        let lists = [vec![Role::Provider, Role::Nurse], vec![Role::FrontDesk, Role::AppDeveloper]];
        for _ in 0..10 {
            std::thread::scope(|scope| {
                for roles in &lists {
                    let b = &b;
                    scope.spawn(move || {
                        let roles = roles.clone();
                        b.write_ok(move |s| s.set_roles(id, &roles)).unwrap();
                    });
                }
            });
            let mut now = b.read(|s| s.user(id).unwrap().unwrap().roles);
            now.sort();
            let sorted: Vec<Vec<Role>> = lists
                .iter()
                .map(|l| {
                    let mut l = l.clone();
                    l.sort();
                    l
                })
                .collect();
            assert!(sorted.contains(&now), "{}: {now:?}", b.name);
        }
    }
}
