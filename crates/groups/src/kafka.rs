//! Kafka consumer groups, classic protocol: the coordinator's state machine.
//!
//! One [`Coordinator`] holds every group's membership. It is pure: each operation
//! takes `now_ms`, and requests that Kafka answers later (JoinGroup waits for the
//! rebalance to finish, a follower's SyncGroup waits for the leader's assignment)
//! carry a [`WaiterId`] chosen by the caller. Every operation returns the
//! [`Completion`]s it produced — answers for waiters, the caller's own included when
//! it is answered at once — and the caller delivers them. [`Coordinator::tick`]
//! runs the timers (session expiry, rebalance and sync deadlines, the initial
//! rebalance delay); [`Coordinator::next_deadline_ms`] says when it is next needed.
//!
//! States and transitions follow Kafka's `GroupCoordinator`:
//!
//! ```text
//!   Empty --join--> PreparingRebalance --all joined / deadline--> CompletingRebalance
//!     ^                 ^       |                                        |
//!     |                 |       +--no members left--> Empty              | leader's SyncGroup
//!     |                 +--join / leave / expiry / new leader join-------+---- Stable
//! ```
//!
//! Committed offsets are not here: they are durable data the broker stores; the
//! coordinator only decides whether a commit is allowed ([`Coordinator::check_commit`]).
//! Membership is not persisted: after a restart members find their member IDs
//! unknown and join again, as after a Kafka coordinator failover without the
//! group's metadata record.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

/// Chosen by the caller for a request that may be answered later.
pub type WaiterId = u64;

/// Kafka's group settings that Brook honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaGroupConfig {
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty
    /// group waits for more members (extended by each join, up to the rebalance
    /// timeout).
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms`.
    pub session_timeout_min_ms: u64,
    /// `group.max.session.timeout.ms`.
    pub session_timeout_max_ms: u64,
    /// `group.max.size`.
    pub members_max: usize,
    /// Most groups with members at once (a memory limit).
    pub groups_max: usize,
}

impl Default for KafkaGroupConfig {
    fn default() -> Self {
        KafkaGroupConfig {
            initial_rebalance_delay_ms: 3000,
            session_timeout_min_ms: 6000,
            session_timeout_max_ms: 1_800_000,
            members_max: 1000,
            groups_max: 100_000,
        }
    }
}

/// Why a group request is refused; each maps to one Kafka error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KafkaGroupError {
    #[error("the group ID is empty")]
    InvalidGroupId,
    #[error("the session timeout is outside the allowed range")]
    InvalidSessionTimeout,
    #[error("the protocol type or protocols do not match the group's")]
    InconsistentGroupProtocol,
    #[error("the member ID is not known to the group")]
    UnknownMemberId,
    #[error("the generation is not the group's current one")]
    IllegalGeneration,
    #[error("the group is rebalancing")]
    RebalanceInProgress,
    #[error("a member ID is required: join again with the one given")]
    MemberIdRequired,
    #[error("another member with this group.instance.id has joined")]
    FencedInstanceId,
    #[error("the group has reached its maximum size")]
    GroupMaxSizeReached,
    #[error("the group has members")]
    NonEmptyGroup,
    #[error("the group does not exist")]
    GroupIdNotFound,
    #[error("the coordinator is at its group limit")]
    CoordinatorNotAvailable,
}

/// The group states, named as Kafka's DescribeGroups and ListGroups report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub group_id: String,
    /// Empty for a member joining for the first time.
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    /// Supported protocols in order of preference, with their metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member first gets a member ID and must join again with it.
    pub require_known_member_id: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

/// A JoinGroup answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinReply {
    pub error: Option<KafkaGroupError>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// The members and their metadata, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinReply {
    fn error(error: KafkaGroupError, member_id: String) -> JoinReply {
        JoinReply {
            error: Some(error),
            generation_id: -1,
            member_id,
            ..JoinReply::default()
        }
    }
}

/// A SyncGroup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// The leader's assignment (empty from followers).
    pub assignments: Vec<(String, Bytes)>,
}

/// A SyncGroup answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncReply {
    pub error: Option<KafkaGroupError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncReply {
    fn error(error: KafkaGroupError) -> SyncReply {
        SyncReply {
            error: Some(error),
            ..SyncReply::default()
        }
    }
}

/// An answer for a waiting request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Join(WaiterId, JoinReply),
    Sync(WaiterId, SyncReply),
}

/// A member leaving: by member ID, or (static members) by instance ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaving {
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// The metadata for the group's chosen protocol (empty before one is chosen).
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: String,
    pub protocol_name: String,
    pub leader: Option<String>,
    pub members: Vec<MemberSummary>,
}

#[derive(Debug, Clone)]
struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_heartbeat_ms: u64,
    awaiting_join: Option<WaiterId>,
    awaiting_sync: Option<WaiterId>,
    /// Order of arrival: the first member becomes leader when there is none.
    joined_seq: u64,
}

impl Member {
    fn metadata_for(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|(name, _)| name == p))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Group {
    state: GroupState,
    generation_id: i32,
    protocol_type: Option<String>,
    protocol_name: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// Member IDs handed out with MEMBER_ID_REQUIRED, with the time they expire.
    pending: BTreeMap<String, u64>,
    /// group.instance.id -> member ID.
    instances: HashMap<String, String>,
    /// PreparingRebalance: when the rebalance completes without the missing members.
    rebalance_deadline_ms: Option<u64>,
    /// PreparingRebalance of a group that was empty: not before this time.
    initial_delay_until_ms: Option<u64>,
    /// CompletingRebalance: when members that have not sent SyncGroup are removed.
    sync_deadline_ms: Option<u64>,
}

impl Group {
    fn new() -> Group {
        Group {
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            pending: BTreeMap::new(),
            instances: HashMap::new(),
            rebalance_deadline_ms: None,
            initial_delay_until_ms: None,
            sync_deadline_ms: None,
        }
    }

    /// Protocols every member (and `extra`, if given) supports.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocols.is_empty() || protocol_type.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// The protocol every member supports that most members prefer.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().min_by_key(|m| m.joined_seq)?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .collect();
        let mut best: Option<(&String, usize)> = None;
        for candidate in &candidates {
            let votes = self
                .members
                .values()
                .filter(|m| {
                    m.protocols
                        .iter()
                        .map(|(n, _)| n)
                        .find(|n| candidates.contains(n))
                        == Some(*candidate)
                })
                .count();
            if best.is_none_or(|(_, v)| votes > v) {
                best = Some((candidate, votes));
            }
        }
        best.map(|(name, _)| name.clone())
    }

    fn join_reply_for(&self, member_id: &str) -> JoinReply {
        let is_leader = self.leader.as_deref() == Some(member_id);
        let members = if is_leader {
            let mut ms: Vec<&Member> = self.members.values().collect();
            ms.sort_by_key(|m| m.joined_seq);
            ms.into_iter()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    metadata: m.metadata_for(self.protocol_name.as_deref()),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinReply {
            error: None,
            generation_id: self.generation_id,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_owned(),
            members,
        }
    }

    /// Removes a member, answering its waiting requests with `error`.
    fn remove_member(
        &mut self,
        member_id: &str,
        error: KafkaGroupError,
        out: &mut Vec<Completion>,
    ) {
        let Some(m) = self.members.remove(member_id) else {
            self.pending.remove(member_id);
            return;
        };
        if let Some(w) = m.awaiting_join {
            out.push(Completion::Join(w, JoinReply::error(error, m.id.clone())));
        }
        if let Some(w) = m.awaiting_sync {
            out.push(Completion::Sync(w, SyncReply::error(error)));
        }
        if let Some(instance) = &m.instance_id {
            if self.instances.get(instance).map(String::as_str) == Some(member_id) {
                self.instances.remove(instance);
            }
        }
        if self.leader.as_deref() == Some(member_id) {
            self.leader = None;
        }
    }

    fn prepare_rebalance(
        &mut self,
        now_ms: u64,
        config: &KafkaGroupConfig,
        out: &mut Vec<Completion>,
    ) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                if let Some(w) = m.awaiting_sync.take() {
                    out.push(Completion::Sync(
                        w,
                        SyncReply::error(KafkaGroupError::RebalanceInProgress),
                    ));
                }
            }
        }
        for m in self.members.values_mut() {
            m.assignment = Bytes::new();
        }
        let rebalance_timeout_ms = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        if self.state == GroupState::Empty {
            self.initial_delay_until_ms =
                Some(now_ms + config.initial_rebalance_delay_ms.min(rebalance_timeout_ms));
        }
        self.rebalance_deadline_ms = Some(now_ms + rebalance_timeout_ms);
        self.sync_deadline_ms = None;
        self.state = GroupState::PreparingRebalance;
    }

    fn maybe_complete_join(&mut self, now_ms: u64, out: &mut Vec<Completion>) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let deadline_passed = self.rebalance_deadline_ms.is_some_and(|d| now_ms >= d);
        if !deadline_passed && self.initial_delay_until_ms.is_some_and(|d| now_ms < d) {
            return;
        }
        let all_joined =
            self.pending.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some());
        if all_joined || deadline_passed {
            self.complete_join(now_ms, out);
        }
    }

    fn complete_join(&mut self, now_ms: u64, out: &mut Vec<Completion>) {
        let missing: Vec<String> = self
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            self.remove_member(&id, KafkaGroupError::UnknownMemberId, out);
        }
        self.pending.clear();
        self.rebalance_deadline_ms = None;
        self.initial_delay_until_ms = None;
        self.generation_id = self.generation_id.wrapping_add(1).max(1);
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol_name = None;
            self.protocol_type = None;
            self.leader = None;
            return;
        }
        self.protocol_name = self.select_protocol();
        if self
            .leader
            .as_ref()
            .is_none_or(|l| !self.members.contains_key(l))
        {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.joined_seq)
                .map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        let rebalance_timeout_ms = self
            .members
            .values()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0);
        self.sync_deadline_ms = Some(now_ms + rebalance_timeout_ms);
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let reply = self.join_reply_for(&id);
            if let Some(m) = self.members.get_mut(&id) {
                m.last_heartbeat_ms = now_ms;
                if let Some(w) = m.awaiting_join.take() {
                    out.push(Completion::Join(w, reply));
                }
            }
        }
    }

    /// Checks `member_id` (and its instance ID) against the group.
    fn check_member(&self, member_id: &str, instance: Option<&str>) -> Result<(), KafkaGroupError> {
        if let Some(instance) = instance {
            match self.instances.get(instance) {
                Some(current) if current != member_id => {
                    return Err(KafkaGroupError::FencedInstanceId)
                }
                None if !self.members.contains_key(member_id) => {
                    return Err(KafkaGroupError::UnknownMemberId)
                }
                _ => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(KafkaGroupError::UnknownMemberId)
        }
    }

    fn next_deadline_ms(&self) -> Option<u64> {
        let mut d: Option<u64> = None;
        let mut consider = |t: u64| d = Some(d.map_or(t, |d| d.min(t)));
        for &t in self.pending.values() {
            consider(t);
        }
        for m in self.members.values() {
            if m.awaiting_join.is_none() && m.awaiting_sync.is_none() {
                consider(m.last_heartbeat_ms + m.session_timeout_ms);
            }
        }
        if self.state == GroupState::PreparingRebalance {
            if let Some(t) = self.initial_delay_until_ms {
                consider(t);
            }
            if let Some(t) = self.rebalance_deadline_ms {
                consider(t);
            }
        }
        if self.state == GroupState::CompletingRebalance {
            if let Some(t) = self.sync_deadline_ms {
                consider(t);
            }
        }
        d
    }
}

/// The group coordinator of one broker.
#[derive(Debug)]
pub struct Coordinator {
    config: KafkaGroupConfig,
    groups: HashMap<String, Group>,
    /// Makes member IDs unique across restarts (chosen by the caller).
    id_seed: u64,
    id_counter: u64,
}

fn limit(ms: i32) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

impl Coordinator {
    pub fn new(config: KafkaGroupConfig, id_seed: u64) -> Coordinator {
        Coordinator {
            config,
            groups: HashMap::new(),
            id_seed,
            id_counter: 0,
        }
    }

    pub fn config(&self) -> &KafkaGroupConfig {
        &self.config
    }

    fn new_member_id(&mut self, prefix: &str) -> String {
        self.id_counter += 1;
        // Kafka's member IDs are `<client.id or group.instance.id>-<uuid>`.
        let a = self.id_seed;
        let b = self.id_counter;
        format!(
            "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            a as u16,
            (b >> 48) as u16,
            b & 0xffff_ffff_ffff
        )
    }

    /// Handles a JoinGroup. The answer for `waiter` is among the returned
    /// completions, now or from a later call.
    pub fn join(&mut self, now_ms: u64, waiter: WaiterId, req: JoinRequest) -> Vec<Completion> {
        let mut out = Vec::new();
        let fail = |e: KafkaGroupError, member_id: &str| {
            vec![Completion::Join(
                waiter,
                JoinReply::error(e, member_id.to_owned()),
            )]
        };
        if req.group_id.is_empty() {
            return fail(KafkaGroupError::InvalidGroupId, &req.member_id);
        }
        let session = limit(req.session_timeout_ms);
        if session < self.config.session_timeout_min_ms
            || session > self.config.session_timeout_max_ms
        {
            return fail(KafkaGroupError::InvalidSessionTimeout, &req.member_id);
        }
        if !self.groups.contains_key(&req.group_id) {
            if !req.member_id.is_empty() {
                return fail(KafkaGroupError::UnknownMemberId, &req.member_id);
            }
            if self.groups.len() >= self.config.groups_max {
                return fail(KafkaGroupError::CoordinatorNotAvailable, &req.member_id);
            }
        }
        let config = self.config;
        let new_id = if req.member_id.is_empty() {
            let prefix = req.group_instance_id.as_deref().unwrap_or(&req.client_id);
            Some(self.new_member_id(prefix))
        } else {
            None
        };
        let group = self
            .groups
            .entry(req.group_id.clone())
            .or_insert_with(Group::new);
        if !group.supports(&req.protocol_type, &req.protocols) {
            return fail(KafkaGroupError::InconsistentGroupProtocol, &req.member_id);
        }
        let rebalance = if req.rebalance_timeout_ms < 0 {
            session
        } else {
            limit(req.rebalance_timeout_ms)
        };
        let member_id = match new_id {
            None => req.member_id.clone(),
            Some(new_id) => {
                // A static member that is known: the new member ID replaces (fences)
                // the old one, keeping its place and assignment.
                if let Some(old) = req
                    .group_instance_id
                    .as_ref()
                    .and_then(|i| group.instances.get(i))
                    .cloned()
                {
                    if let Some(mut m) = group.members.remove(&old) {
                        if let Some(w) = m.awaiting_join.take() {
                            out.push(Completion::Join(
                                w,
                                JoinReply::error(KafkaGroupError::FencedInstanceId, old.clone()),
                            ));
                        }
                        if let Some(w) = m.awaiting_sync.take() {
                            out.push(Completion::Sync(
                                w,
                                SyncReply::error(KafkaGroupError::FencedInstanceId),
                            ));
                        }
                        let unchanged = m.protocols == req.protocols;
                        m.id = new_id.clone();
                        m.client_id = req.client_id.clone();
                        m.client_host = req.client_host.clone();
                        m.session_timeout_ms = session;
                        m.rebalance_timeout_ms = rebalance;
                        m.protocols = req.protocols.clone();
                        m.last_heartbeat_ms = now_ms;
                        let was_leader = group.leader.as_deref() == Some(old.as_str());
                        if was_leader {
                            group.leader = Some(new_id.clone());
                        }
                        group.members.insert(new_id.clone(), m);
                        if let Some(i) = &req.group_instance_id {
                            group.instances.insert(i.clone(), new_id.clone());
                        }
                        if group.state == GroupState::Stable && unchanged && !was_leader {
                            out.push(Completion::Join(waiter, group.join_reply_for(&new_id)));
                            return out;
                        }
                        if let Some(m) = group.members.get_mut(&new_id) {
                            m.awaiting_join = Some(waiter);
                        }
                        if group.state != GroupState::PreparingRebalance {
                            group.prepare_rebalance(now_ms, &config, &mut out);
                        }
                        group.maybe_complete_join(now_ms, &mut out);
                        return out;
                    }
                }
                if group.members.len() + group.pending.len() >= config.members_max {
                    out.push(Completion::Join(
                        waiter,
                        JoinReply::error(KafkaGroupError::GroupMaxSizeReached, String::new()),
                    ));
                    return out;
                }
                if req.require_known_member_id && req.group_instance_id.is_none() {
                    group.pending.insert(new_id.clone(), now_ms + session);
                    out.push(Completion::Join(
                        waiter,
                        JoinReply::error(KafkaGroupError::MemberIdRequired, new_id),
                    ));
                    return out;
                }
                add_member(
                    group, now_ms, waiter, &req, new_id, session, rebalance, &config, &mut out,
                );
                return out;
            }
        };
        // A known member ID (or one handed out with MEMBER_ID_REQUIRED).
        if group.pending.remove(&member_id).is_some() {
            add_member(
                group, now_ms, waiter, &req, member_id, session, rebalance, &config, &mut out,
            );
            return out;
        }
        if let Err(e) = group.check_member(&member_id, req.group_instance_id.as_deref()) {
            out.push(Completion::Join(waiter, JoinReply::error(e, member_id)));
            return out;
        }
        let state = group.state;
        let is_leader = group.leader.as_deref() == Some(member_id.as_str());
        let Some(m) = group.members.get_mut(&member_id) else {
            out.push(Completion::Join(
                waiter,
                JoinReply::error(KafkaGroupError::UnknownMemberId, member_id),
            ));
            return out;
        };
        let unchanged = m.protocols == req.protocols;
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        m.session_timeout_ms = session;
        m.rebalance_timeout_ms = rebalance;
        m.protocols = req.protocols.clone();
        m.last_heartbeat_ms = now_ms;
        match state {
            GroupState::PreparingRebalance => {
                if let Some(old) = m.awaiting_join.replace(waiter) {
                    out.push(Completion::Join(
                        old,
                        JoinReply::error(KafkaGroupError::RebalanceInProgress, member_id.clone()),
                    ));
                }
                group.maybe_complete_join(now_ms, &mut out);
            }
            GroupState::CompletingRebalance | GroupState::Stable
                if unchanged && !(state == GroupState::Stable && is_leader) =>
            {
                // The member lost the previous answer: give it again.
                out.push(Completion::Join(waiter, group.join_reply_for(&member_id)));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                m.awaiting_join = Some(waiter);
                group.prepare_rebalance(now_ms, &config, &mut out);
                group.maybe_complete_join(now_ms, &mut out);
            }
            GroupState::Empty | GroupState::Dead => {
                out.push(Completion::Join(
                    waiter,
                    JoinReply::error(KafkaGroupError::UnknownMemberId, member_id),
                ));
            }
        }
        out
    }

    /// Handles a SyncGroup; the answer for `waiter` is among the completions, now or
    /// later.
    pub fn sync(&mut self, now_ms: u64, waiter: WaiterId, req: SyncRequest) -> Vec<Completion> {
        let fail = |e| vec![Completion::Sync(waiter, SyncReply::error(e))];
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return fail(KafkaGroupError::UnknownMemberId);
        };
        if let Err(e) = group.check_member(&req.member_id, req.group_instance_id.as_deref()) {
            return fail(e);
        }
        if req.generation_id != group.generation_id {
            return fail(KafkaGroupError::IllegalGeneration);
        }
        if req
            .protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != group.protocol_type.as_ref())
            || req
                .protocol_name
                .as_ref()
                .is_some_and(|n| Some(n) != group.protocol_name.as_ref())
        {
            return fail(KafkaGroupError::InconsistentGroupProtocol);
        }
        let mut out = Vec::new();
        match group.state {
            GroupState::Empty | GroupState::Dead => return fail(KafkaGroupError::UnknownMemberId),
            GroupState::PreparingRebalance => return fail(KafkaGroupError::RebalanceInProgress),
            GroupState::Stable => {
                let assignment = group
                    .members
                    .get_mut(&req.member_id)
                    .map(|m| {
                        m.last_heartbeat_ms = now_ms;
                        m.assignment.clone()
                    })
                    .unwrap_or_default();
                out.push(Completion::Sync(
                    waiter,
                    SyncReply {
                        error: None,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol_name.clone(),
                        assignment,
                    },
                ));
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = group.members.get_mut(&req.member_id) {
                    m.last_heartbeat_ms = now_ms;
                    if let Some(old) = m.awaiting_sync.replace(waiter) {
                        out.push(Completion::Sync(
                            old,
                            SyncReply::error(KafkaGroupError::RebalanceInProgress),
                        ));
                    }
                }
                if group.leader.as_deref() == Some(req.member_id.as_str()) {
                    let mut assignments: HashMap<String, Bytes> =
                        req.assignments.into_iter().collect();
                    for m in group.members.values_mut() {
                        m.assignment = assignments.remove(&m.id).unwrap_or_default();
                    }
                    group.state = GroupState::Stable;
                    group.sync_deadline_ms = None;
                    for m in group.members.values_mut() {
                        if let Some(w) = m.awaiting_sync.take() {
                            m.last_heartbeat_ms = now_ms;
                            out.push(Completion::Sync(
                                w,
                                SyncReply {
                                    error: None,
                                    protocol_type: group.protocol_type.clone(),
                                    protocol_name: group.protocol_name.clone(),
                                    assignment: m.assignment.clone(),
                                },
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// Handles a Heartbeat.
    pub fn heartbeat(
        &mut self,
        now_ms: u64,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), KafkaGroupError> {
        let group = self
            .groups
            .get_mut(group_id)
            .ok_or(KafkaGroupError::UnknownMemberId)?;
        group.check_member(member_id, group_instance_id)?;
        if generation_id != group.generation_id {
            return Err(KafkaGroupError::IllegalGeneration);
        }
        if let Some(m) = group.members.get_mut(member_id) {
            m.last_heartbeat_ms = now_ms;
        }
        match group.state {
            GroupState::Empty | GroupState::Dead => Err(KafkaGroupError::UnknownMemberId),
            GroupState::PreparingRebalance => Err(KafkaGroupError::RebalanceInProgress),
            GroupState::CompletingRebalance | GroupState::Stable => Ok(()),
        }
    }

    /// Handles a LeaveGroup: one result per leaving member, in order.
    #[allow(clippy::type_complexity)]
    pub fn leave(
        &mut self,
        now_ms: u64,
        group_id: &str,
        leaving: &[Leaving],
    ) -> Result<(Vec<Result<(), KafkaGroupError>>, Vec<Completion>), KafkaGroupError> {
        let config = self.config;
        let group = self
            .groups
            .get_mut(group_id)
            .ok_or(KafkaGroupError::UnknownMemberId)?;
        let mut out = Vec::new();
        let mut results = Vec::with_capacity(leaving.len());
        let mut removed = false;
        for l in leaving {
            let member_id = match &l.group_instance_id {
                Some(instance) => match group.instances.get(instance) {
                    None => Err(KafkaGroupError::UnknownMemberId),
                    Some(current) if !l.member_id.is_empty() && *current != l.member_id => {
                        Err(KafkaGroupError::FencedInstanceId)
                    }
                    Some(current) => Ok(current.clone()),
                },
                None if group.members.contains_key(&l.member_id)
                    || group.pending.contains_key(&l.member_id) =>
                {
                    Ok(l.member_id.clone())
                }
                None => Err(KafkaGroupError::UnknownMemberId),
            };
            results.push(member_id.map(|id| {
                group.remove_member(&id, KafkaGroupError::UnknownMemberId, &mut out);
                removed = true;
            }));
        }
        if removed {
            match group.state {
                GroupState::Stable | GroupState::CompletingRebalance => {
                    group.prepare_rebalance(now_ms, &config, &mut out);
                    group.maybe_complete_join(now_ms, &mut out);
                }
                GroupState::PreparingRebalance => group.maybe_complete_join(now_ms, &mut out),
                GroupState::Empty | GroupState::Dead => {}
            }
        }
        Ok((results, out))
    }

    /// Whether a member may commit offsets now. `generation_id < 0` with an empty
    /// member ID is a commit by a client that manages its own partitions: allowed
    /// while the group has no members.
    pub fn check_commit(
        &mut self,
        now_ms: u64,
        group_id: &str,
        member_id: &str,
        group_instance_id: Option<&str>,
        generation_id: i32,
    ) -> Result<(), KafkaGroupError> {
        if group_id.is_empty() {
            return Err(KafkaGroupError::InvalidGroupId);
        }
        let Some(group) = self.groups.get_mut(group_id) else {
            return if generation_id < 0 {
                Ok(())
            } else {
                Err(KafkaGroupError::IllegalGeneration)
            };
        };
        if generation_id < 0 && group.state == GroupState::Empty {
            return Ok(());
        }
        if group.state == GroupState::CompletingRebalance {
            return Err(KafkaGroupError::RebalanceInProgress);
        }
        group.check_member(member_id, group_instance_id)?;
        if generation_id != group.generation_id {
            return Err(KafkaGroupError::IllegalGeneration);
        }
        if let Some(m) = group.members.get_mut(member_id) {
            m.last_heartbeat_ms = now_ms;
        }
        Ok(())
    }

    /// Runs the timers due at `now_ms`.
    pub fn tick(&mut self, now_ms: u64) -> Vec<Completion> {
        let config = self.config;
        let mut out = Vec::new();
        for group in self.groups.values_mut() {
            group.pending.retain(|_, &mut expiry| expiry > now_ms);
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    m.awaiting_join.is_none()
                        && m.awaiting_sync.is_none()
                        && m.last_heartbeat_ms + m.session_timeout_ms <= now_ms
                })
                .map(|m| m.id.clone())
                .collect();
            let mut changed = !expired.is_empty();
            for id in expired {
                group.remove_member(&id, KafkaGroupError::UnknownMemberId, &mut out);
            }
            if group.state == GroupState::CompletingRebalance
                && group.sync_deadline_ms.is_some_and(|d| d <= now_ms)
            {
                // Members that did not send SyncGroup in time are gone.
                let silent: Vec<String> = group
                    .members
                    .values()
                    .filter(|m| m.awaiting_sync.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                for id in silent {
                    group.remove_member(&id, KafkaGroupError::UnknownMemberId, &mut out);
                }
                changed = true;
            }
            if changed
                && matches!(
                    group.state,
                    GroupState::Stable | GroupState::CompletingRebalance
                )
            {
                group.prepare_rebalance(now_ms, &config, &mut out);
            }
            group.maybe_complete_join(now_ms, &mut out);
        }
        // Groups with nobody in them hold no state worth keeping (their offsets are
        // the broker's).
        self.groups.retain(|_, g| {
            !(g.state == GroupState::Empty && g.members.is_empty() && g.pending.is_empty())
        });
        out
    }

    /// When [`Coordinator::tick`] next has something to do.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.groups
            .values()
            .filter_map(Group::next_deadline_ms)
            .min()
    }

    /// A group's state, or `None` if the coordinator has no members for it.
    pub fn describe(&self, group_id: &str) -> Option<GroupSummary> {
        let g = self.groups.get(group_id)?;
        let mut members: Vec<&Member> = g.members.values().collect();
        members.sort_by_key(|m| m.joined_seq);
        Some(GroupSummary {
            state: g.state,
            generation_id: g.generation_id,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol_name: g.protocol_name.clone().unwrap_or_default(),
            leader: g.leader.clone(),
            members: members
                .into_iter()
                .map(|m| MemberSummary {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: m.metadata_for(g.protocol_name.as_deref()),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// `(group ID, protocol type, state)` of every group with members.
    pub fn list(&self) -> Vec<(String, String, GroupState)> {
        let mut v: Vec<_> = self
            .groups
            .iter()
            .map(|(id, g)| {
                (
                    id.clone(),
                    g.protocol_type.clone().unwrap_or_default(),
                    g.state,
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Checks that a group may be deleted (no members); the broker deletes its
    /// offsets.
    pub fn check_delete(&self, group_id: &str) -> Result<(), KafkaGroupError> {
        match self.groups.get(group_id) {
            Some(g) if !g.members.is_empty() || !g.pending.is_empty() => {
                Err(KafkaGroupError::NonEmptyGroup)
            }
            _ => Ok(()),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_member(
    group: &mut Group,
    now_ms: u64,
    waiter: WaiterId,
    req: &JoinRequest,
    member_id: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    config: &KafkaGroupConfig,
    out: &mut Vec<Completion>,
) {
    let joined_seq = group
        .members
        .values()
        .map(|m| m.joined_seq + 1)
        .max()
        .unwrap_or(0);
    if group.members.is_empty() {
        group.protocol_type = Some(req.protocol_type.clone());
    }
    if let Some(i) = &req.group_instance_id {
        group.instances.insert(i.clone(), member_id.clone());
    }
    group.members.insert(
        member_id.clone(),
        Member {
            id: member_id,
            instance_id: req.group_instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: req.client_host.clone(),
            session_timeout_ms,
            rebalance_timeout_ms,
            protocols: req.protocols.clone(),
            assignment: Bytes::new(),
            last_heartbeat_ms: now_ms,
            awaiting_join: Some(waiter),
            awaiting_sync: None,
            joined_seq,
        },
    );
    match group.state {
        GroupState::PreparingRebalance => {
            // A join during the initial delay extends it, up to the rebalance timeout.
            if let (Some(until), Some(deadline)) =
                (group.initial_delay_until_ms, group.rebalance_deadline_ms)
            {
                let extended = (now_ms + config.initial_rebalance_delay_ms).min(deadline);
                group.initial_delay_until_ms = Some(until.max(extended));
            }
        }
        _ => group.prepare_rebalance(now_ms, config, out),
    }
    group.maybe_complete_join(now_ms, out);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SESSION: i32 = 10_000;
    const REBALANCE: i32 = 30_000;

    fn coordinator(initial_delay_ms: u64) -> Coordinator {
        Coordinator::new(
            KafkaGroupConfig {
                initial_rebalance_delay_ms: initial_delay_ms,
                ..KafkaGroupConfig::default()
            },
            7,
        )
    }

    fn join_req(member_id: &str, protocols: &[&str]) -> JoinRequest {
        JoinRequest {
            group_id: "g".into(),
            member_id: member_id.into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: protocols
                .iter()
                .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
                .collect(),
            require_known_member_id: true,
        }
    }

    fn sync_req(member_id: &str, generation_id: i32, assignments: &[(&str, &str)]) -> SyncRequest {
        SyncRequest {
            group_id: "g".into(),
            generation_id,
            member_id: member_id.into(),
            group_instance_id: None,
            protocol_type: Some("consumer".into()),
            protocol_name: None,
            assignments: assignments
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
                .collect(),
        }
    }

    fn join_of(out: &[Completion], waiter: WaiterId) -> Option<JoinReply> {
        out.iter().find_map(|c| match c {
            Completion::Join(w, r) if *w == waiter => Some(r.clone()),
            _ => None,
        })
    }

    fn sync_of(out: &[Completion], waiter: WaiterId) -> Option<SyncReply> {
        out.iter().find_map(|c| match c {
            Completion::Sync(w, r) if *w == waiter => Some(r.clone()),
            _ => None,
        })
    }

    /// Joins a new member through the MEMBER_ID_REQUIRED round trip; returns its ID
    /// and the completions of the second join.
    fn join_new(c: &mut Coordinator, now: u64, waiter: WaiterId) -> (String, Vec<Completion>) {
        let out = c.join(now, waiter, join_req("", &["range"]));
        let first = join_of(&out, waiter).unwrap();
        assert_eq!(first.error, Some(KafkaGroupError::MemberIdRequired));
        assert!(first.member_id.starts_with("c-"), "{}", first.member_id);
        let out = c.join(now, waiter + 1000, join_req(&first.member_id, &["range"]));
        (first.member_id, out)
    }

    /// A stable group with one member: returns its member ID.
    fn stable_one(c: &mut Coordinator) -> String {
        let (a, out) = join_new(c, 0, 1);
        let reply = join_of(&out, 1001).unwrap();
        assert_eq!(reply.error, None);
        assert_eq!(reply.generation_id, 1);
        assert_eq!(reply.leader, a);
        assert_eq!(reply.protocol_name.as_deref(), Some("range"));
        assert_eq!(reply.members.len(), 1);
        assert_eq!(&reply.members[0].metadata[..], b"meta-range");
        let out = c.sync(0, 2, sync_req(&a, 1, &[(&a, "all")]));
        assert_eq!(&sync_of(&out, 2).unwrap().assignment[..], b"all");
        a
    }

    #[test]
    fn a_single_member_joins_syncs_and_heartbeats() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        assert_eq!(c.heartbeat(5, "g", &a, None, 1), Ok(()));
        assert_eq!(
            c.heartbeat(5, "g", &a, None, 0),
            Err(KafkaGroupError::IllegalGeneration)
        );
        assert_eq!(
            c.heartbeat(5, "g", "nobody", None, 1),
            Err(KafkaGroupError::UnknownMemberId)
        );
        let d = c.describe("g").unwrap();
        assert_eq!(d.state, GroupState::Stable);
        assert_eq!(&d.members[0].assignment[..], b"all");
    }

    #[test]
    fn a_second_member_triggers_a_rebalance_that_waits_for_the_first() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        let (b, out) = join_new(&mut c, 100, 10);
        assert!(join_of(&out, 1010).is_none(), "b waits for a to rejoin");
        assert_eq!(
            c.heartbeat(200, "g", &a, None, 1),
            Err(KafkaGroupError::RebalanceInProgress)
        );
        // Commits are still allowed while preparing (onPartitionsRevoked).
        assert_eq!(c.check_commit(200, "g", &a, None, 1), Ok(()));
        let out = c.join(300, 20, join_req(&a, &["range"]));
        let ra = join_of(&out, 20).unwrap();
        let rb = join_of(&out, 1010).unwrap();
        assert_eq!((ra.generation_id, rb.generation_id), (2, 2));
        assert_eq!(ra.leader, a);
        assert_eq!(rb.leader, a);
        assert_eq!(ra.members.len(), 2);
        assert!(rb.members.is_empty());
        assert_eq!(
            c.check_commit(300, "g", &a, None, 2),
            Err(KafkaGroupError::RebalanceInProgress)
        );
        // The follower's sync waits for the leader's.
        let out = c.sync(310, 30, sync_req(&b, 2, &[]));
        assert!(out.is_empty());
        let out = c.sync(320, 31, sync_req(&a, 2, &[(&a, "p0"), (&b, "p1")]));
        assert_eq!(&sync_of(&out, 31).unwrap().assignment[..], b"p0");
        assert_eq!(&sync_of(&out, 30).unwrap().assignment[..], b"p1");
        assert_eq!(c.check_commit(330, "g", &b, None, 2), Ok(()));
        assert_eq!(
            c.check_commit(330, "g", &b, None, 1),
            Err(KafkaGroupError::IllegalGeneration)
        );
    }

    #[test]
    fn an_expired_session_removes_the_member_and_rebalances() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        let (b, _) = join_new(&mut c, 100, 10);
        let out = c.join(100, 20, join_req(&a, &["range"]));
        assert_eq!(join_of(&out, 20).unwrap().generation_id, 2);
        c.sync(100, 21, sync_req(&b, 2, &[]));
        c.sync(100, 22, sync_req(&a, 2, &[]));
        assert_eq!(c.next_deadline_ms(), Some(100 + SESSION as u64));
        // a keeps heartbeating, b goes silent.
        assert_eq!(c.heartbeat(9_000, "g", &a, None, 2), Ok(()));
        assert!(c.tick(10_099).is_empty());
        c.tick(10_100);
        assert_eq!(
            c.heartbeat(10_200, "g", &a, None, 2),
            Err(KafkaGroupError::RebalanceInProgress)
        );
        assert_eq!(
            c.heartbeat(10_200, "g", &b, None, 2),
            Err(KafkaGroupError::UnknownMemberId)
        );
        let out = c.join(10_300, 40, join_req(&a, &["range"]));
        let r = join_of(&out, 40).unwrap();
        assert_eq!(r.generation_id, 3);
        assert_eq!(r.members.len(), 1);
    }

    #[test]
    fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_deadline() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        let (_b, out) = join_new(&mut c, 100, 10);
        assert!(join_of(&out, 1010).is_none());
        // a heartbeats (answered REBALANCE_IN_PROGRESS) but never rejoins.
        for t in (1_000..30_000).step_by(3_000) {
            assert_eq!(
                c.heartbeat(t, "g", &a, None, 1),
                Err(KafkaGroupError::RebalanceInProgress)
            );
            assert!(c.tick(t).is_empty());
        }
        let out = c.tick(100 + REBALANCE as u64);
        let rb = join_of(&out, 1010).unwrap();
        assert_eq!(rb.error, None);
        assert_eq!(rb.generation_id, 2);
        assert_eq!(rb.members.len(), 1, "b leads alone");
        assert_eq!(
            c.heartbeat(30_200, "g", &a, None, 2),
            Err(KafkaGroupError::UnknownMemberId)
        );
    }

    #[test]
    fn leaving_rebalances_the_rest_and_the_last_leave_empties_the_group() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        let leave = |id: &str| Leaving {
            member_id: id.into(),
            group_instance_id: None,
        };
        let (results, _) = c.leave(10, "g", &[leave(&a), leave("ghost")]).unwrap();
        assert_eq!(results, vec![Ok(()), Err(KafkaGroupError::UnknownMemberId)]);
        assert_eq!(c.describe("g").unwrap().state, GroupState::Empty);
        assert_eq!(c.check_delete("g"), Ok(()));
        c.tick(20);
        assert!(c.describe("g").is_none(), "empty groups are forgotten");
        assert_eq!(c.check_commit(30, "g", "", None, -1), Ok(()));
    }

    #[test]
    fn the_first_rebalance_waits_for_the_initial_delay() {
        let mut c = coordinator(3_000);
        let (_a, out) = join_new(&mut c, 0, 1);
        assert!(join_of(&out, 1001).is_none());
        assert_eq!(c.next_deadline_ms(), Some(3_000));
        let (_b, out) = join_new(&mut c, 2_000, 2);
        assert!(join_of(&out, 1002).is_none());
        assert!(
            c.tick(3_000).is_empty(),
            "the second join extended the delay"
        );
        let out = c.tick(5_000);
        assert_eq!(join_of(&out, 1001).unwrap().generation_id, 1);
        assert_eq!(join_of(&out, 1002).unwrap().generation_id, 1);
    }

    #[test]
    fn the_protocol_all_members_support_with_most_votes_is_chosen() {
        let mut c = coordinator(0);
        let r = join_req("", &["range", "roundrobin"]);
        let id = join_of(&c.join(0, 1, r.clone()), 1).unwrap().member_id;
        let out = c.join(0, 2, JoinRequest { member_id: id, ..r });
        assert_eq!(
            join_of(&out, 2).unwrap().protocol_name.as_deref(),
            Some("range")
        );
        // A member that only speaks roundrobin joins: both rejoin.
        let only_rr = join_req("", &["roundrobin"]);
        let id2 = join_of(&c.join(1, 3, only_rr.clone()), 3)
            .unwrap()
            .member_id;
        assert!(c
            .join(
                1,
                4,
                JoinRequest {
                    member_id: id2,
                    ..only_rr
                }
            )
            .is_empty());
        let d = c.describe("g").unwrap();
        let first = d.members[0].member_id.clone();
        let out = c.join(2, 5, join_req(&first, &["range", "roundrobin"]));
        assert_eq!(
            join_of(&out, 5).unwrap().protocol_name.as_deref(),
            Some("roundrobin")
        );
        // A member without roundrobin cannot join now; another protocol type neither.
        let out = c.join(3, 6, join_req("", &["range"]));
        assert_eq!(
            join_of(&out, 6).unwrap().error,
            Some(KafkaGroupError::InconsistentGroupProtocol)
        );
        let out = c.join(
            3,
            7,
            JoinRequest {
                protocol_type: "connect".into(),
                ..join_req("", &["roundrobin"])
            },
        );
        assert_eq!(
            join_of(&out, 7).unwrap().error,
            Some(KafkaGroupError::InconsistentGroupProtocol)
        );
    }

    #[test]
    fn a_static_member_rejoining_fences_its_old_member_id_and_keeps_its_assignment() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        let stat = |member: &str| JoinRequest {
            group_instance_id: Some("i1".into()),
            ..join_req(member, &["range"])
        };
        // Static members get their ID at once (no MEMBER_ID_REQUIRED).
        let out = c.join(10, 1, stat(""));
        assert!(join_of(&out, 1).is_none(), "joining rebalances");
        let out = c.join(20, 2, join_req(&a, &["range"]));
        let s = join_of(&out, 1).unwrap();
        assert!(s.member_id.starts_with("i1-"));
        assert_eq!(join_of(&out, 2).unwrap().generation_id, 2);
        c.sync(30, 3, sync_req(&s.member_id, 2, &[]));
        c.sync(30, 4, sync_req(&a, 2, &[(&a, "x"), (&s.member_id, "y")]));
        // The static member restarts: same assignment, same generation, no rebalance.
        let out = c.join(40, 5, stat(""));
        let again = join_of(&out, 5).unwrap();
        assert_eq!(again.error, None);
        assert_eq!(again.generation_id, 2);
        assert_ne!(again.member_id, s.member_id);
        let out = c.sync(
            50,
            6,
            SyncRequest {
                group_instance_id: Some("i1".into()),
                ..sync_req(&again.member_id, 2, &[])
            },
        );
        assert_eq!(&sync_of(&out, 6).unwrap().assignment[..], b"y");
        assert_eq!(
            c.heartbeat(60, "g", &s.member_id, Some("i1"), 2),
            Err(KafkaGroupError::FencedInstanceId)
        );
        assert_eq!(c.heartbeat(60, "g", &a, None, 2), Ok(()));
    }

    #[test]
    fn commits_are_checked_against_membership_and_generation() {
        let mut c = coordinator(0);
        assert_eq!(c.check_commit(0, "g", "", None, -1), Ok(()));
        assert_eq!(
            c.check_commit(0, "g", "m", None, 3),
            Err(KafkaGroupError::IllegalGeneration)
        );
        assert_eq!(
            c.check_commit(0, "", "", None, -1),
            Err(KafkaGroupError::InvalidGroupId)
        );
        let a = stable_one(&mut c);
        assert_eq!(
            c.check_commit(0, "g", "", None, -1),
            Err(KafkaGroupError::UnknownMemberId),
            "a group with members takes commits from members only"
        );
        assert_eq!(c.check_commit(0, "g", &a, None, 1), Ok(()));
        assert_eq!(c.check_delete("g"), Err(KafkaGroupError::NonEmptyGroup));
    }

    #[test]
    fn bad_joins_are_refused() {
        let mut c = coordinator(0);
        let out = c.join(
            0,
            1,
            JoinRequest {
                session_timeout_ms: 10,
                ..join_req("", &["range"])
            },
        );
        assert_eq!(
            join_of(&out, 1).unwrap().error,
            Some(KafkaGroupError::InvalidSessionTimeout)
        );
        let out = c.join(0, 2, join_req("unknown", &["range"]));
        assert_eq!(
            join_of(&out, 2).unwrap().error,
            Some(KafkaGroupError::UnknownMemberId)
        );
        let out = c.join(
            0,
            3,
            JoinRequest {
                group_id: String::new(),
                ..join_req("", &["range"])
            },
        );
        assert_eq!(
            join_of(&out, 3).unwrap().error,
            Some(KafkaGroupError::InvalidGroupId)
        );
        // A member ID handed out but never used expires.
        let out = c.join(0, 4, join_req("", &["range"]));
        let id = join_of(&out, 4).unwrap().member_id;
        c.tick(SESSION as u64 + 1);
        let out = c.join(SESSION as u64 + 2, 5, join_req(&id, &["range"]));
        assert_eq!(
            join_of(&out, 5).unwrap().error,
            Some(KafkaGroupError::UnknownMemberId)
        );
    }

    #[test]
    fn a_leader_that_never_syncs_is_removed_at_the_sync_deadline() {
        let mut c = coordinator(0);
        let a = stable_one(&mut c);
        let (b, _) = join_new(&mut c, 100, 10);
        c.join(100, 20, join_req(&a, &["range"]));
        let out = c.sync(200, 30, sync_req(&b, 2, &[]));
        assert!(out.is_empty());
        let out = c.tick(100 + REBALANCE as u64);
        let r = sync_of(&out, 30).unwrap();
        assert_eq!(r.error, Some(KafkaGroupError::RebalanceInProgress));
        assert_eq!(
            c.heartbeat(100 + REBALANCE as u64, "g", &a, None, 2),
            Err(KafkaGroupError::UnknownMemberId)
        );
    }
}
