//! Kafka admin APIs against the real binary: requests and responses encoded with the
//! `kafka-protocol` crate's generated types (no hand-written frames), checked across
//! restarts (SIGTERM and SIGKILL) and against what Redis clients see of the same
//! topics.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request as incremental;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, ApiKey, ApiVersionsRequest, ApiVersionsResponse,
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteRecordsRequest, DeleteRecordsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, DescribeClusterRequest, DescribeClusterResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribeLogDirsRequest, DescribeLogDirsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use redis::Commands as _;

use crate::util::{free_ports, Server, TIMEOUT};

/// A server on a data directory that outlives it (for restarts).
struct Brook {
    server: Server,
    kafka: SocketAddr,
    resp: SocketAddr,
    data_dir: PathBuf,
    dir: tempfile::TempDir,
}

impl Brook {
    fn start() -> Brook {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let (server, kafka, resp) = spawn(dir.path(), &data_dir);
        Brook {
            server,
            kafka,
            resp,
            data_dir,
            dir,
        }
    }

    /// Stops the server with `stop` and starts a new one on the same data.
    fn restart(&mut self, stop: impl FnOnce(&mut Server)) {
        stop(&mut self.server);
        let (server, kafka, resp) = spawn(self.dir.path(), &self.data_dir);
        self.server = server;
        self.kafka = kafka;
        self.resp = resp;
    }

    fn client(&self) -> Client {
        Client::connect(self.kafka)
    }

    fn redis(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/0", self.resp)).unwrap();
        client.get_connection_with_timeout(TIMEOUT).unwrap()
    }
}

fn spawn(cwd: &Path, data_dir: &Path) -> (Server, SocketAddr, SocketAddr) {
    let args = free_ports(data_dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(cwd, &args, &[]));
    let kafka = server.addr("kafka").expect("kafka listening line");
    let resp = server.resp_addr();
    (server, kafka, resp)
}

fn sigterm(server: &mut Server) {
    server.terminate();
    assert!(server.wait_exit().success());
}

/// A minimal Kafka client: one request at a time, typed messages.
struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Client {
            stream,
            correlation_id: 0,
        }
    }

    fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        request: &Req,
    ) -> Resp {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("it")));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, key.request_header_version(version))
            .unwrap();
        request.encode(&mut body, version).unwrap();
        let mut frame = BytesMut::new();
        frame.put_i32(body.len() as i32);
        frame.put_slice(&body);
        self.stream.write_all(&frame).unwrap();
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).unwrap();
        let mut response = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut response).unwrap();
        let mut response = Bytes::from(response);
        let header =
            ResponseHeader::decode(&mut response, key.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, self.correlation_id);
        let decoded = Resp::decode(&mut response, version).unwrap();
        assert!(
            !response.has_remaining(),
            "{key:?} v{version}: trailing bytes"
        );
        decoded
    }

    fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> kafka_protocol::messages::create_topics_response::CreatableTopicResult {
        let topic = CreatableTopic::default()
            .with_name(topic_name(name))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)
            .with_configs(
                configs
                    .iter()
                    .map(|(n, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(n))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            );
        let request = CreateTopicsRequest::default()
            .with_topics(vec![topic])
            .with_timeout_ms(5000);
        let mut response: CreateTopicsResponse = self.call(ApiKey::CreateTopics, 7, &request);
        response.topics.remove(0)
    }

    /// The partition count Metadata reports for `name`, or the error code.
    fn partitions(&mut self, name: &str) -> Result<usize, i16> {
        let request = MetadataRequest::default()
            .with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(topic_name(name)))
            ]))
            .with_allow_auto_topic_creation(false);
        let response: MetadataResponse = self.call(ApiKey::Metadata, 9, &request);
        let t = &response.topics[0];
        if t.error_code != 0 {
            return Err(t.error_code);
        }
        Ok(t.partitions.len())
    }

    /// `(name, value, source)` of a topic's configs.
    fn topic_configs(&mut self, name: &str) -> Vec<(String, String, i8)> {
        let request = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(name))
                .with_configuration_keys(None),
        ]);
        let response: DescribeConfigsResponse = self.call(ApiKey::DescribeConfigs, 4, &request);
        let result = &response.results[0];
        assert_eq!(result.error_code, 0, "{:?}", result.error_message);
        result
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    c.value.as_deref().unwrap_or_default().to_string(),
                    c.config_source,
                )
            })
            .collect()
    }

    fn produce(&mut self, name: &str, partition: i32, values: &[&str]) -> Result<i64, i16> {
        let records: Vec<Record> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: 1_700_000_000_000 + i as i64,
                key: None,
                value: Some(Bytes::from(v.to_string())),
                headers: Default::default(),
            })
            .collect();
        let mut batch = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut batch,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(name))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch.freeze()))])]);
        let response: ProduceResponse = self.call(ApiKey::Produce, 9, &request);
        let p = &response.responses[0].partition_responses[0];
        if p.error_code != 0 {
            return Err(p.error_code);
        }
        Ok(p.base_offset)
    }

    /// `(error, timestamp, offset)` for a ListOffsets `timestamp` on one partition.
    fn list_offset(&mut self, name: &str, partition: i32, timestamp: i64) -> (i16, i64, i64) {
        let request = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(topic_name(name))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(timestamp)])]);
        let response: ListOffsetsResponse = self.call(ApiKey::ListOffsets, 10, &request);
        let p = &response.topics[0].partitions[0];
        (p.error_code, p.timestamp, p.offset)
    }

    /// `(error, low watermark)` per `(partition, offset)`.
    fn delete_records(&mut self, name: &str, parts: &[(i32, i64)]) -> Vec<(i16, i64)> {
        let partitions = parts
            .iter()
            .map(|&(p, o)| {
                DeleteRecordsPartition::default()
                    .with_partition_index(p)
                    .with_offset(o)
            })
            .collect();
        let request = DeleteRecordsRequest::default()
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(topic_name(name))
                .with_partitions(partitions)])
            .with_timeout_ms(5000);
        let response: DeleteRecordsResponse = self.call(ApiKey::DeleteRecords, 2, &request);
        response.topics[0]
            .partitions
            .iter()
            .map(|p| (p.error_code, p.low_watermark))
            .collect()
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

fn config<'a>(configs: &'a [(String, String, i8)], name: &str) -> (&'a str, i8) {
    configs
        .iter()
        .find(|c| c.0 == name)
        .map(|c| (c.1.as_str(), c.2))
        .unwrap_or_else(|| panic!("no {name} in {configs:?}"))
}

const SOURCE_TOPIC: i8 = 1;
const SOURCE_DEFAULT: i8 = 5;

#[test]
fn api_versions_advertise_the_admin_apis() {
    let brook = Brook::start();
    let response: ApiVersionsResponse =
        brook
            .client()
            .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let versions = |key: ApiKey| {
        response
            .api_keys
            .iter()
            .find(|a| a.api_key == key as i16)
            .map(|a| (a.min_version, a.max_version))
    };
    for (key, range) in [
        (ApiKey::CreateTopics, (2, 7)),
        (ApiKey::DeleteTopics, (1, 6)),
        (ApiKey::CreatePartitions, (0, 3)),
        (ApiKey::DeleteRecords, (0, 2)),
        (ApiKey::DescribeConfigs, (1, 4)),
        (ApiKey::AlterConfigs, (0, 2)),
        (ApiKey::IncrementalAlterConfigs, (0, 1)),
        (ApiKey::DescribeCluster, (0, 2)),
        (ApiKey::DescribeLogDirs, (1, 4)),
        (ApiKey::OffsetForLeaderEpoch, (2, 4)),
        (ApiKey::ListOffsets, (1, 10)),
    ] {
        assert_eq!(versions(key), Some(range), "{key:?}");
    }
}

/// Create with configs, change them both ways, restart, delete: every step is
/// visible through Metadata and DescribeConfigs, and survives the restart.
#[test]
fn a_topic_is_created_configured_and_deleted_durably() {
    let mut brook = Brook::start();
    let mut kafka = brook.client();
    let created = kafka.create_topic(
        "orders",
        3,
        &[("retention.ms", "86400000"), ("brook.fsync", "everysec")],
    );
    assert_eq!(created.error_code, 0, "{:?}", created.error_message);
    assert_eq!((created.num_partitions, created.replication_factor), (3, 1));
    assert!(!created.topic_id.is_nil());
    let again = kafka.create_topic("orders", 1, &[]);
    assert_eq!(again.error_code, 36, "TOPIC_ALREADY_EXISTS");
    let compact = kafka.create_topic("compacted", 1, &[("cleanup.policy", "compact")]);
    assert_eq!(compact.error_code, 40, "INVALID_CONFIG");
    assert!(compact
        .error_message
        .as_deref()
        .unwrap()
        .contains("does not compact"));
    assert_eq!(kafka.partitions("compacted"), Err(3), "not created");
    assert_eq!(kafka.partitions("orders"), Ok(3));
    let configs = kafka.topic_configs("orders");
    assert_eq!(config(&configs, "retention.ms"), ("86400000", SOURCE_TOPIC));
    assert_eq!(config(&configs, "brook.fsync"), ("everysec", SOURCE_TOPIC));
    assert_eq!(config(&configs, "retention.bytes"), ("-1", SOURCE_DEFAULT));

    // Incremental: one config set, the others kept.
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configs(vec![incremental::AlterableConfig::default()
                .with_name(s("retention.bytes"))
                .with_config_operation(0)
                .with_value(Some(s("1073741824")))]),
    ]);
    let response: IncrementalAlterConfigsResponse =
        kafka.call(ApiKey::IncrementalAlterConfigs, 1, &request);
    assert_eq!(response.responses[0].error_code, 0);
    let configs = kafka.topic_configs("orders");
    assert_eq!(
        config(&configs, "retention.bytes"),
        ("1073741824", SOURCE_TOPIC)
    );
    assert_eq!(config(&configs, "retention.ms"), ("86400000", SOURCE_TOPIC));

    brook.restart(sigterm);
    let mut kafka = brook.client();
    assert_eq!(kafka.partitions("orders"), Ok(3));
    let configs = kafka.topic_configs("orders");
    assert_eq!(
        config(&configs, "retention.bytes"),
        ("1073741824", SOURCE_TOPIC)
    );
    assert_eq!(config(&configs, "brook.fsync"), ("everysec", SOURCE_TOPIC));

    // The legacy AlterConfigs replaces the whole set.
    let request =
        AlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("orders"))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s("segment.bytes"))
                .with_value(Some(s("1048576")))])]);
    let response: AlterConfigsResponse = kafka.call(ApiKey::AlterConfigs, 2, &request);
    assert_eq!(response.responses[0].error_code, 0);
    let configs = kafka.topic_configs("orders");
    assert_eq!(config(&configs, "segment.bytes"), ("1048576", SOURCE_TOPIC));
    assert_eq!(config(&configs, "retention.ms"), ("-1", SOURCE_DEFAULT));
    assert_eq!(config(&configs, "brook.fsync"), ("always", SOURCE_DEFAULT));

    let request = DeleteTopicsRequest::default()
        .with_topic_names(vec![topic_name("orders"), topic_name("missing")])
        .with_timeout_ms(5000);
    let response: DeleteTopicsResponse = kafka.call(ApiKey::DeleteTopics, 5, &request);
    let codes: Vec<i16> = response.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, 3], "deleted; UNKNOWN_TOPIC_OR_PARTITION");
    assert_eq!(kafka.partitions("orders"), Err(3));
    brook.restart(sigterm);
    assert_eq!(brook.client().partitions("orders"), Err(3), "still gone");
    // Its files go in the background (at the latest after the restart, if the
    // shutdown came first).
    let topics_dir = brook.data_dir.join("topics");
    crate::util::poll("the deleted topic's directory to go", || {
        (std::fs::read_dir(&topics_dir).unwrap().count() == 0).then_some(())
    });
}

/// Partitions added by CreatePartitions take records at once and are still there
/// after a SIGKILL (the metadata change was durable when the response left).
#[test]
fn added_partitions_take_records_and_survive_sigkill() {
    let mut brook = Brook::start();
    let mut kafka = brook.client();
    assert_eq!(kafka.create_topic("grow", 1, &[]).error_code, 0);
    assert_eq!(kafka.produce("grow", 0, &["a", "b"]), Ok(0));
    assert_eq!(
        kafka.produce("grow", 2, &["x"]),
        Err(3),
        "no partition 2 yet"
    );
    let grow = |count: i32, validate_only: bool| {
        CreatePartitionsRequest::default()
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic_name("grow"))
                .with_count(count)
                .with_assignments(None)])
            .with_timeout_ms(5000)
            .with_validate_only(validate_only)
    };
    let response: CreatePartitionsResponse =
        kafka.call(ApiKey::CreatePartitions, 3, &grow(3, true));
    assert_eq!(response.results[0].error_code, 0);
    assert_eq!(kafka.partitions("grow"), Ok(1), "validate_only");
    let response: CreatePartitionsResponse =
        kafka.call(ApiKey::CreatePartitions, 3, &grow(3, false));
    assert_eq!(response.results[0].error_code, 0);
    assert_eq!(kafka.partitions("grow"), Ok(3));
    assert_eq!(kafka.produce("grow", 2, &["x", "y", "z"]), Ok(0));
    let response: CreatePartitionsResponse =
        kafka.call(ApiKey::CreatePartitions, 3, &grow(2, false));
    let r = &response.results[0];
    assert_eq!(r.error_code, 37, "INVALID_PARTITIONS");
    assert!(r
        .error_message
        .as_deref()
        .unwrap()
        .contains("higher than the requested 2"));

    brook.restart(Server::kill9);
    let mut kafka = brook.client();
    assert_eq!(kafka.partitions("grow"), Ok(3));
    assert_eq!(kafka.list_offset("grow", 0, -1), (0, -1, 2));
    assert_eq!(kafka.list_offset("grow", 1, -1), (0, -1, 0));
    assert_eq!(kafka.list_offset("grow", 2, -1), (0, -1, 3));
    // Redis sees each partition as a stream of its own (`name#N`); the topic's own
    // name asks for one.
    let mut redis = brook.redis();
    let lens: Vec<u64> = (0..3)
        .map(|i| redis.xlen(format!("grow#{i}")).unwrap())
        .collect();
    assert_eq!(lens, vec![2, 0, 3]);
    let err = redis.xlen::<_, u64>("grow").unwrap_err();
    assert!(
        err.to_string()
            .contains("grow is a topic with 3 partitions: name one as grow#0 to grow#2"),
        "{err}"
    );
}

/// DeleteRecords moves the same log start that XTRIM moves: Redis readers and Kafka
/// ListOffsets agree on it, and it survives a restart.
#[test]
fn delete_records_trims_what_redis_clients_see_too() {
    let mut brook = Brook::start();
    let mut redis = brook.redis();
    for i in 0..10 {
        let _: String = redis.xadd("events", "*", &[("n", i)]).unwrap();
    }
    let mut kafka = brook.client();
    assert_eq!(
        kafka.delete_records("events", &[(0, 4), (0, 11), (0, 2), (5, 1)]),
        vec![(0, 4), (1, -1), (0, 4), (3, -1)],
        "trimmed; OFFSET_OUT_OF_RANGE; below the log start; UNKNOWN_TOPIC_OR_PARTITION"
    );
    assert_eq!(kafka.list_offset("events", 0, -2), (0, -1, 4));
    let len: u64 = redis.xlen("events").unwrap();
    assert_eq!(len, 6);
    let first: redis::streams::StreamRangeReply =
        redis.xrange_count("events", "-", "+", 1).unwrap();
    assert_eq!(first.ids[0].get::<i64>("n"), Some(4));

    brook.restart(sigterm);
    let mut kafka = brook.client();
    assert_eq!(kafka.list_offset("events", 0, -2), (0, -1, 4));
    assert_eq!(kafka.delete_records("events", &[(0, -1)]), vec![(0, 10)]);
    let len: u64 = brook.redis().xlen("events").unwrap();
    assert_eq!(len, 0);
}

/// DescribeCluster, DescribeLogDirs, OffsetForLeaderEpoch and ListOffsets -3 on a
/// running server.
#[test]
fn cluster_log_dirs_epochs_and_max_timestamp() {
    let brook = Brook::start();
    let mut kafka = brook.client();
    let response: DescribeClusterResponse = kafka.call(
        ApiKey::DescribeCluster,
        1,
        &DescribeClusterRequest::default(),
    );
    assert_eq!(response.error_code, 0);
    assert_eq!(&*response.cluster_id, "brook");
    assert_eq!(response.controller_id, BrokerId(0));
    assert_eq!(response.brokers.len(), 1);
    assert_eq!(response.brokers[0].port, i32::from(brook.kafka.port()));
    assert_eq!(&*response.brokers[0].host, brook.kafka.ip().to_string());

    assert_eq!(kafka.create_topic("t", 2, &[]).error_code, 0);
    assert_eq!(kafka.produce("t", 0, &["a", "b", "c"]), Ok(0));
    let response: DescribeLogDirsResponse = kafka.call(
        ApiKey::DescribeLogDirs,
        4,
        &DescribeLogDirsRequest::default().with_topics(None),
    );
    let result = &response.results[0];
    assert_eq!(
        std::path::Path::new(&*result.log_dir),
        brook.data_dir.as_path()
    );
    let t = result.topics.iter().find(|t| &*t.name.0 == "t").unwrap();
    assert_eq!(t.partitions.len(), 2);
    assert!(t.partitions[0].partition_size > 0);
    assert_eq!(t.partitions[1].partition_size, 0);

    let request =
        OffsetForLeaderEpochRequest::default().with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(topic_name("t"))
            .with_partitions(vec![
                OffsetForLeaderPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(0)
                    .with_leader_epoch(0),
                OffsetForLeaderPartition::default()
                    .with_partition(9)
                    .with_current_leader_epoch(0)
                    .with_leader_epoch(0),
            ])]);
    let response: OffsetForLeaderEpochResponse =
        kafka.call(ApiKey::OffsetForLeaderEpoch, 4, &request);
    let p = &response.topics[0].partitions;
    assert_eq!(
        (p[0].error_code, p[0].leader_epoch, p[0].end_offset),
        (0, 0, 3)
    );
    assert_eq!(p[1].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");

    // The produced timestamps go up by one: the last record has the largest.
    assert_eq!(kafka.list_offset("t", 0, -3), (0, 1_700_000_000_002, 2));
    assert_eq!(kafka.list_offset("t", 1, -3), (0, -1, -1), "empty");
    assert_eq!(kafka.list_offset("t", 0, -4), (0, -1, 0));
    assert_eq!(kafka.list_offset("t", 0, -5), (0, -1, -1));
}

/// Metadata, FindCoordinator and DescribeCluster all hand out `--kafka-advertise`
/// (checked on the wire: a real client would go on to connect to the advertised
/// name, which does not resolve here).
#[test]
fn the_advertised_address_is_what_clients_are_told() {
    use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
    let dir = tempfile::tempdir().unwrap();
    let mut args = free_ports(&dir.path().join("data"));
    args.extend(["--kafka-advertise".into(), "brook.example:19092".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir.path(), &args, &[]));
    let mut kafka = Client::connect(server.addr("kafka").unwrap());

    let metadata: MetadataResponse = kafka.call(ApiKey::Metadata, 9, &MetadataRequest::default());
    let brokers: Vec<(i32, String, i32)> = metadata
        .brokers
        .iter()
        .map(|b| (b.node_id.0, b.host.to_string(), b.port))
        .collect();
    assert_eq!(brokers, vec![(0, "brook.example".to_string(), 19092)]);

    let coordinator: FindCoordinatorResponse = kafka.call(
        ApiKey::FindCoordinator,
        3,
        &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("g")),
    );
    assert_eq!(
        (
            coordinator.error_code,
            coordinator.host.as_str(),
            coordinator.port
        ),
        (0, "brook.example", 19092)
    );
    let cluster: DescribeClusterResponse = kafka.call(
        ApiKey::DescribeCluster,
        0,
        &DescribeClusterRequest::default(),
    );
    assert_eq!(cluster.brokers[0].host.as_str(), "brook.example");
    server.terminate();
}

/// A RESP client blocked in XREADGROUP on a topic's only partition reads on when a
/// Kafka client grows the topic (the key now names a topic of several partitions,
/// but the stream it blocked on is still there as partition 0).
#[test]
fn a_blocked_xreadgroup_reads_on_after_its_topic_grows() {
    let brook = Brook::start();
    let mut kafka = brook.client();
    assert_eq!(kafka.create_topic("grows", 1, &[]).error_code, 0);
    let mut admin = brook.redis();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("grows")
        .arg("g")
        .arg("$")
        .query(&mut admin)
        .unwrap();
    let mut reader = brook.redis();
    let blocked = std::thread::spawn(move || -> redis::RedisResult<redis::Value> {
        redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("g")
            .arg("c")
            .arg("BLOCK")
            .arg(10_000)
            .arg("STREAMS")
            .arg("grows")
            .arg(">")
            .query(&mut reader)
    });
    crate::util::poll("the reader to block", || {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut admin).unwrap();
        info.contains("blocked_clients:1").then_some(())
    });
    let response: CreatePartitionsResponse = kafka.call(
        ApiKey::CreatePartitions,
        3,
        &CreatePartitionsRequest::default()
            .with_topics(vec![CreatePartitionsTopic::default()
                .with_name(topic_name("grows"))
                .with_count(2)
                .with_assignments(None)])
            .with_timeout_ms(5000),
    );
    assert_eq!(response.results[0].error_code, 0);
    assert_eq!(kafka.produce("grows", 0, &["after"]), Ok(0));
    let reply = blocked.join().unwrap().unwrap();
    assert!(format!("{reply:?}").contains("after"), "{reply:?}");
}
